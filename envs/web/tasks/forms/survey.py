"""Radio survey: answer four to six multiple-choice questions as the instruction dictates."""

from __future__ import annotations

from typing import Any

import numpy as np
from rlft.envs.web.sites.forms import html
from rlft.envs.web.tasks.forms.base import Episode, Request, Want, pick, sent_value
from rlft.envs.web.tasks.forms.single import SingleFormFamily

QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("How often do you cook at home?", ("Never", "Monthly", "Weekly", "Daily")),
    ("How did you hear about us?", ("A friend", "Radio", "A newspaper", "Social media", "A poster")),
    ("Which season do you like best?", ("Spring", "Summer", "Autumn", "Winter")),
    ("How do you get to work?", ("Walking", "Cycling", "Bus", "Train", "Car")),
    ("How satisfied are you with us?", ("Very unhappy", "Unhappy", "Neutral", "Happy", "Very happy")),
    ("Which drink do you prefer in the morning?", ("Coffee", "Tea", "Juice", "Water")),
    ("How many books did you read last year?", ("None", "1 to 5", "6 to 20", "More than 20")),
    ("Which pet would you choose?", ("Cat", "Dog", "Fish", "Parrot", "None")),
    ("What size is your household?", ("1 person", "2 people", "3 to 4 people", "5 or more")),
)  # fmt: skip


class SurveyFamily(SingleFormFamily):
    """Answer a survey of radio-button questions with the dictated answers; all are required.

    Reward at submission: fraction of questions answered as dictated. Submitting with a question
    unanswered is refused with a validation message.
    """

    key = "survey"
    title = "Customer survey"
    reward_doc = "fraction of questions (4-6) answered as dictated"

    def generate(self, rng: np.random.Generator) -> Episode:
        """Which questions appear (in a random order) and the dictated answer of each."""
        chosen = pick(rng, list(range(len(QUESTIONS))), int(rng.integers(4, 7)))
        return {
            "goal": {"answers": {str(q): pick(rng, QUESTIONS[q][1]) for q in chosen}},
            "questions": chosen,
        }

    def instruction(self, episode: Episode) -> str:
        """E.g. ``Answer the survey: "How often do you cook at home?" -> "Weekly"; ... then submit.``."""
        answers = episode["goal"]["answers"]
        parts = [f'"{QUESTIONS[q][0]}" -> "{answers[str(q)]}"' for q in sorted(episode["questions"])]
        return "Answer the survey: " + "; ".join(parts) + ". Then submit it."

    def fields(self, episode: Episode, sent: Request | None) -> list[str]:
        """One radio group per question."""
        return [
            html.radio_group(f"q{q}", QUESTIONS[q][0], QUESTIONS[q][1], sent_value(sent, f"q{q}"))
            for q in episode["questions"]
        ]

    def validate(self, episode: Episode, request: Request) -> list[str]:
        """Every question needs an answer."""
        return [f'Answer "{QUESTIONS[q][0]}".' for q in episode["questions"] if not request.arg(f"q{q}")]

    def record(self, episode: Episode, request: Request) -> dict[str, Any]:
        """Return the chosen answers."""
        return {str(q): request.arg(f"q{q}") for q in episode["questions"]}

    def checks(self, episode: Episode, submitted: dict[str, Any]) -> dict[str, bool]:
        """One check per question."""
        return {f"q{q}": submitted[q] == wanted for q, wanted in episode["goal"]["answers"].items()}

    def wants(self, episode: Episode) -> list[Want]:
        """Tick each dictated answer."""
        return [Want("radio", f"q{q}", answer) for q, answer in episode["goal"]["answers"].items()]
