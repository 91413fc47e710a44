"""Adapter heads: small modules that turn backbone encodings into action logits and a value.

Every head is called as ``head(backbone, batch) -> (logits, value)`` on a batch of tensors produced by
:mod:`rlft.policies.observations`; the backbone is passed in (not owned) so actor and critic share it.

* :class:`TextScorerHead` (web, encoders): a bi-encoder that scores every admissible command.
* :class:`LateInteractionScorerHead` (web, encoders, ``scorer="late_interaction"``): the bi-encoder
  plus token-level max-sim between the instruction + history tokens and each candidate's tokens.
* :class:`CrossAttentionScorerHead` (web, encoders, ``scorer="cross_attention"``): every candidate token
  reads the observation's token states through one cross-attention layer (the page is encoded once).
* :class:`GenerativeScorerHead` (web, causal LMs): score = sum of the command's token log-probs.
* :class:`PickPlaceHead` (tabletop, vision(-language)): language-conditioned pick / place heatmaps over
  a grid of table cells, yaw bins, and a value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F  # noqa: N812
from rlft.policies.backbone import Backbone, mean_pool
from rlft.policies.marks import HISTORY_MARK, INSTRUCTION_MARK
from rlft.policies.numbers import token_numbers
from torch import nn

NEG_INF = torch.finfo(torch.float32).min
"""Logit of unavailable candidates: exp() underflows to exactly 0 and entropies stay finite."""


def value_mlp(in_dim: int, width: int) -> nn.Sequential:
    """The value head: LayerNorm -> Linear -> Tanh -> Linear(1)."""
    return nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, width), nn.Tanh(), nn.Linear(width, 1))


def trim_padding(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the trailing columns where every right-padded row is padding (the encodings do not change).

    Fixed-shape views pad every row to the token budget; a ``back`` or a short page then costs a full
    budget of backbone positions unless the all-padding tail is cut before the forward pass.
    """
    if mask.numel() == 0:
        return ids, mask
    used = mask.reshape(-1, mask.shape[-1]).any(dim=0).nonzero()
    length = int(used.max()) + 1 if len(used) else 1
    return ids[..., :length], mask[..., :length]


def encode_by_length(
    encode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """``encode(ids, mask)`` over right-padded rows, in buckets of similar length (same result, less padding).

    Web candidates are mostly short (``click[3]``) with a few long ones (a product title); padding every
    row to the longest would spend most backbone positions on padding. Rows are sorted by length and cut
    into buckets whose longest row is at most twice the shortest; each bucket is trimmed and encoded in
    one call. Per-token outputs (``[N, L, H]``) are zero-padded back to a common length.
    """
    lengths = mask.sum(dim=1)
    if len(lengths) <= 1:
        return encode(*trim_padding(ids, mask))
    order = torch.argsort(lengths, stable=True)
    sorted_lengths = lengths[order].tolist()
    buckets: list[list[int]] = [[0]]
    for pos in range(1, len(order)):
        if sorted_lengths[pos] > 2 * max(sorted_lengths[buckets[-1][0]], 1):
            buckets.append([])
        buckets[-1].append(pos)
    if len(buckets) == 1:
        return encode(*trim_padding(ids, mask))
    parts = []
    for bucket in buckets:
        rows = order[bucket]
        parts.append(encode(*trim_padding(ids[rows], mask[rows])))
    if parts[0].dim() == 3:  # per-token states: pad to the longest bucket
        width = max(p.shape[1] for p in parts)
        parts = [F.pad(p, (0, 0, 0, width - p.shape[1])) for p in parts]
    out = torch.cat(parts)
    return out[torch.argsort(order)]


class TokenEncodings(NamedTuple):
    """Per-token states of a web batch's observations and valid candidates (the token scorers' input).

    Observation tensors are ``[B, Lp(, H)]`` with the all-padding tail cut; candidate tensors are
    ``[N, Lc(, H)]``, one row per valid slot (row-major over ``valid [B, K]``), ``None`` when no slot is.
    """

    obs_ids: torch.Tensor
    obs_mask: torch.Tensor
    query: torch.Tensor
    """``[B, Lp]`` marks: ``INSTRUCTION_MARK`` / ``HISTORY_MARK`` tokens, 0 elsewhere."""
    obs_tokens: torch.Tensor
    valid: torch.Tensor
    cand_ids: torch.Tensor | None
    cand_mask: torch.Tensor | None
    cand_tokens: torch.Tensor | None


def encode_token_batch(backbone: Backbone, batch: dict[str, torch.Tensor]) -> TokenEncodings:
    """One ``encode_tokens`` pass over the observations, one (length-bucketed) over the valid candidates."""
    obs_ids, obs_mask = trim_padding(batch["obs_ids"], batch["obs_mask"])
    query = batch["obs_query"][:, : obs_ids.shape[1]]
    obs_tokens = backbone.encode_tokens(obs_ids, obs_mask)
    valid = batch["cand_valid"].bool()
    if not valid.any():
        return TokenEncodings(obs_ids, obs_mask, query, obs_tokens, valid, None, None, None)
    ids, mask = batch["cand_ids"][valid], batch["cand_mask"][valid]
    cand_tokens = encode_by_length(backbone.encode_tokens, ids, mask)
    width = cand_tokens.shape[1]
    return TokenEncodings(
        obs_ids, obs_mask, query, obs_tokens, valid, ids[:, :width], mask[:, :width], cand_tokens
    )


class TextScorerHead(nn.Module):
    """Scores each admissible command against the observation (bi-encoder + interaction MLP).

    The observation and all candidates of the batch are encoded by the backbone (candidates of every
    observation in one batched pass, padding rows skipped), projected to ``width``, and scored by an
    MLP over ``[o, c, o * c]``. Unavailable slots get :data:`NEG_INF`.
    """

    def __init__(self, hidden_size: int, width: int) -> None:
        super().__init__()
        self.obs_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, width))
        self.cand_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, width))
        self.scorer = nn.Sequential(nn.Linear(3 * width, width), nn.GELU(), nn.Linear(width, 1))
        self.value_head = value_mlp(hidden_size, width)

    def pair_scores(self, obs_h: torch.Tensor, cand_h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """MLP scores ``[N]`` of the valid candidates (``cand_h [N, H]``) against their observation."""
        o = self.obs_proj(obs_h).unsqueeze(1).expand(-1, valid.shape[1], -1)[valid]
        c = self.cand_proj(cand_h)
        return self.scorer(torch.cat([o, c, o * c], dim=-1)).squeeze(-1)

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits [B, K], value [B])`` for a web batch."""
        obs_h = backbone.encode_text(*trim_padding(batch["obs_ids"], batch["obs_mask"]))
        valid = batch["cand_valid"].bool()
        logits = torch.full(valid.shape, NEG_INF, dtype=torch.float32, device=obs_h.device)
        if valid.any():
            cand_h = encode_by_length(
                backbone.encode_text, batch["cand_ids"][valid], batch["cand_mask"][valid]
            )
            scores = self.pair_scores(obs_h, cand_h, valid)
            # Under mixed precision the scores may be half precision; the logits stay float32.
            logits = logits.masked_scatter(valid, scores.to(logits.dtype))
        return logits, self.value_head(obs_h).squeeze(-1)


class LateInteractionScorerHead(TextScorerHead):
    """The bi-encoder plus token-level matching of each candidate against the instruction and history.

    One backbone pass over the observation gives its token states; the instruction and history tokens
    (``obs_query``) are projected to ``match_dim`` unit vectors ``q_i``, every candidate token to ``d_j``,
    and the candidate's match is ColBERT's max-sim averaged over the query tokens,
    ``mean_i max_j <q_i, d_j>``: "purple" in the instruction finds "purple" in a link's description even
    where a pooled vector blurs it. The logit is the bi-encoder MLP score plus a learned multiple of the
    match. Needs a backbone with ``encode_tokens`` (the Hugging Face encoders).
    """

    def __init__(self, hidden_size: int, width: int, match_dim: int = 128) -> None:
        super().__init__(hidden_size, width)
        self.query_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, match_dim))
        self.token_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, match_dim))
        # Log-parameterised: the match differs between candidates by a few hundredths, so its weight
        # must be able to grow by orders of magnitude, which Adam's ~lr-sized steps on a raw scalar
        # could not do in a few hundred steps.
        self.log_match_scale = nn.Parameter(torch.tensor(math.log(5.0)))

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits [B, K], value [B])`` for a web batch with ``obs_query`` marks."""
        enc = encode_token_batch(backbone, batch)
        query, obs_tokens, valid = enc.query.bool(), enc.obs_tokens, enc.valid
        obs_h = mean_pool(obs_tokens, enc.obs_mask)
        logits = torch.full(valid.shape, NEG_INF, dtype=torch.float32, device=obs_h.device)
        if enc.cand_tokens is not None and enc.cand_mask is not None:
            cand_tokens, mask = enc.cand_tokens, enc.cand_mask
            scores = self.pair_scores(obs_h, mean_pool(cand_tokens, mask), valid)
            rows = valid.nonzero(as_tuple=True)[0]
            q = F.normalize(self.query_proj(obs_tokens), dim=-1)[rows]  # [N, Lp, D]
            d = F.normalize(self.token_proj(cand_tokens), dim=-1)  # [N, Lc, D]
            sims = torch.einsum("npd,nld->npl", q, d.to(q.dtype))
            sims = sims.masked_fill(~mask.bool().unsqueeze(1), -2.0).amax(dim=2)  # [N, Lp]
            qmask = query[rows].to(sims.dtype)
            match = (sims * qmask).sum(1) / qmask.sum(1).clamp(min=1.0)
            scores = scores + self.log_match_scale.exp() * match.to(scores.dtype)
            logits = logits.masked_scatter(valid, scores.to(logits.dtype))
        return logits, self.value_head(obs_h).squeeze(-1)


NUMBER_DIM = 32
"""Width of the space in which a candidate's numbers find the instruction's numbers they relate to."""
NUMBER_SCALES = (3.0, 30.0)
"""Sharpness of the log-difference comparisons (30: a 3% gap is decisive; 3: a factor of two)."""
RANK_FEATURES = 3
"""Features of :meth:`CrossAttentionScorerHead.rank_numbers`: mean, minimum and maximum comparison."""
RANK_SCALE = 30.0
"""Sharpness of the comparison between two candidates' numbers (log space: a 3% gap is decisive)."""
RANK_CHUNK = 1 << 22
"""Most entries of one ``[pages, K, W, K, W]`` alignment of :meth:`CrossAttentionScorerHead.rank_numbers`."""


def _compact(
    keep: torch.Tensor, values: torch.Tensor, states: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The kept positions of each row moved to its front, cut to the longest row's count.

    Args:
        keep: ``[R, L]`` which positions to keep.
        values: ``[R, L]`` a value per position (0 where not kept in the result).
        states: ``[R, L, H]`` a state per position.

    Returns:
        ``(keep [R, W], values [R, W], states [R, W, H])``.
    """
    width = max(int(keep.sum(1).max()), 1)
    order = torch.sort(keep.to(torch.int8), dim=1, descending=True, stable=True).indices[:, :width]
    kept = keep.gather(1, order)
    picked = states.gather(1, order.unsqueeze(-1).expand(-1, -1, states.shape[-1]))
    return (
        kept,
        torch.where(kept, values.gather(1, order), torch.zeros_like(kept, dtype=values.dtype)),
        picked,
    )


def exact_matches(cand_ids: torch.Tensor, obs_ids: torch.Tensor, marks: torch.Tensor) -> torch.Tensor:
    """Whether each candidate token's id occurs in its observation's instruction and in its history.

    Returns ``[N, Lc, 2]``: ``[..., 0]`` among the tokens marked ``INSTRUCTION_MARK``, ``[..., 1]`` among
    those marked ``HISTORY_MARK``.

    Args:
        cand_ids: ``[N, Lc]`` candidate token ids.
        obs_ids: ``[N, S]`` the ids of each candidate's observation (its instruction + history span).
        marks: ``[N, S]`` the observation's marks (0 for tokens that count as neither).
    """
    same = cand_ids.unsqueeze(-1) == obs_ids.unsqueeze(1)  # [N, Lc, S]
    kinds = [(same & (marks == mark).unsqueeze(1)).any(-1) for mark in (INSTRUCTION_MARK, HISTORY_MARK)]
    return torch.stack(kinds, dim=-1)


def context_matches(
    cand_ids: torch.Tensor,
    cand_real: torch.Tensor,
    obs_ids: torch.Tensor,
    instruction: torch.Tensor,
    table: torch.Tensor | None,
) -> list[torch.Tensor]:
    """Instruction matches whose neighbouring instruction word the candidate holds too: ``[N, Lc]`` twice.

    "from Hanoi to Lagos": both cities are options of both the From and the To combobox, so an exact
    match alone cannot tell which goes where; what does is which pairs of adjacent instruction words the
    candidate holds, and in which order. For each pair of adjacent words ``a b`` of the instruction that
    the candidate holds both of, the tokens matching ``b`` are flagged in the first tensor when the
    candidate holds ``a`` first (``combobox "From" ... option "Hanoi"`` for "from Hanoi"; ``"To" ...
    "Lagos"`` for "to Lagos"), in the second when it holds ``b`` first (``combobox "Color" ... option
    "pink"`` for "pink color"). The To box's Hanoi holds "Hanoi to" only in reverse, so the first flag
    tells the boxes apart. Pairs are of whole words: ``b`` must start a word (``##ans`` of ``gdansk`` pairs
    with nothing; ``table``, :func:`rlft.policies.numbers.number_table`, says which tokens start words;
    all False without it).

    Args:
        cand_ids: ``[N, Lc]`` candidate token ids.
        cand_real: ``[N, Lc]`` which of them count (real tokens, of the description).
        obs_ids: ``[N, S]`` each candidate's observation ids (instruction + history span).
        instruction: ``[N, S]`` which of those are instruction tokens.
        table: the number table (its column 2: starts a word).
    """
    none = torch.zeros_like(cand_real)
    if table is None or obs_ids.shape[1] < 2:
        return [none, none]
    starts = table[obs_ids.clamp(0, table.shape[0] - 1), 2].bool()  # [N, S]
    same = (cand_ids.unsqueeze(-1) == obs_ids.unsqueeze(1)) & cand_real.unsqueeze(-1)  # [N, Lc, S]
    same = same & instruction.unsqueeze(1)
    held = same.any(1)  # [N, S]: the candidate holds instruction token s
    first = same.to(torch.int8).argmax(1)  # [N, S]: where it holds it first (meaningful where held)
    pair = torch.zeros_like(held)  # instruction tokens s - 1, s: a word boundary, both held
    pair[:, 1:] = held[:, :-1] & held[:, 1:] & starts[:, 1:]
    before = torch.zeros_like(first)
    before[:, 1:] = first[:, :-1]
    sides = (pair & (before < first), pair & (before > first))
    return [(same & side.unsqueeze(1)).any(-1) for side in sides]


def page_distinctness(cand_ids: torch.Tensor, cand_mask: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """How much each candidate token's id tells its candidate apart from the others on the same page.

    An inverse document frequency over the observation's candidates: ``log(K / df) / log(K)``, with ``df``
    the number of the observation's ``K`` candidates whose tokens include that id. 1 for an id only this
    candidate has (``8`` in ``option "ages 8 and up"`` beside ``"ages 5 and up"``), 0 for one every
    candidate has (the product context every option of a page repeats, ``[CLS]``), and 0 throughout for a
    page with one candidate. Returns ``[N, Lc]`` (0 at padding).

    Args:
        cand_ids: ``[N, Lc]`` token ids of the valid candidates.
        cand_mask: ``[N, Lc]`` their attention mask.
        rows: ``[N]`` each candidate's observation (row of the batch).
    """
    n, lc = cand_ids.shape
    used = cand_mask.bool()
    out = torch.zeros((n, lc), dtype=torch.float32, device=cand_ids.device)
    if n == 0 or not used.any():
        return out
    vocab = int(cand_ids.max()) + 1
    page_id = rows.long().unsqueeze(1) * vocab + cand_ids.long()  # [N, Lc]: (observation, id)
    owner = torch.arange(n, device=cand_ids.device).unsqueeze(1).expand(n, lc)
    # One entry per (candidate, id) it contains, then how many candidates of the page contain each id.
    per_candidate = torch.unique(page_id[used] * n + owner[used]) // n
    keys, df = torch.unique(per_candidate, return_counts=True)
    count = torch.bincount(rows.long(), minlength=int(rows.max()) + 1)[rows]  # [N]: K of each candidate
    k = count.unsqueeze(1).expand(n, lc)[used].to(torch.float32)
    token_df = df[torch.searchsorted(keys, page_id[used])].to(torch.float32)
    out[used] = torch.where(k > 1, torch.log(k / token_df) / torch.log(k.clamp(min=2)), torch.zeros_like(k))
    return out


class CrossAttentionScorerHead(nn.Module):
    """Candidates read the request token by token (one cross-attention layer over its states).

    The observation (instruction, history, page) is encoded once into token states, every candidate
    (command + what it acts on) into its own. Each candidate token then attends over the instruction and
    history tokens of the observation (contextualised by the page in the same pass), in a small learned
    space, and the agreement between a candidate token and what it read, ``read_j * query_j``, is pooled
    over the candidate's tokens (mean and max). That lets ``select[3][pink]`` find the one instruction
    token that says "pink" (a pooled observation vector holds every colour the page lists too) and a
    product link find the attributes it shares with the request. Each candidate token also carries whether
    its token id occurs in the instruction and whether it occurs in the history (the exact-match features
    of reading-comprehension models such as DrQA): a frozen backbone's contextual states blur "honey" in
    "honey flavor" and in ``option "honey"``, while the ids say it outright, and the history flag tells an
    option already chosen from one asked for. The score is an MLP over the pooled observation, the pooled
    instruction + history, the pooled candidate, their products, the pooled agreement and the share of
    the candidate's tokens found in the instruction and in the history, plus a match term: the matched
    tokens' learned salience (softplus of a projection of each token's state), summed, with one learned
    weight for instruction matches (starting at 1) and one for history matches (starting at 0). The MLP
    alone memorises the demonstrations' products rather than the rule; the match term is the rule, and
    it carries over to options and products never seen in training (frozen MiniLM on 300 WebShop
    demonstrations: validation step accuracy 0.69 -> 0.91, on option choices 0.34 -> 1.0). Numbers get
    their own comparison (:meth:`compare_numbers`, with :mod:`rlft.policies.numbers`): token states say
    little about magnitudes, and a price must be read against "under 40 dollars" (0.91 -> 0.94). With
    ``lexical=False`` (``PolicyConfig.lexical_features``) the flags, the match term and the numbers are
    off: candidates meet the request through the backbone's token states only, which is what separates
    what a pretrained backbone knows from what token identity alone gives.
    With ``distinct=True`` (``PolicyConfig.distinct_matches``) the instruction matches count once more,
    each weighted by :func:`page_distinctness`: every option of a WebShop product page repeats the
    product's context and the combobox's current value, words the instruction shares with all of them,
    so only the matches one option has alone tell it from its siblings.

    Attention runs per observation over all its candidates' tokens at once (a candidate token's read does
    not depend on the other candidates), so the cost is one small attention over ``K * Lc`` queries and
    the instruction + history keys per observation: far below a cross-encoder's ``K`` backbone passes
    over instruction + history + candidate.
    """

    def __init__(
        self,
        hidden_size: int,
        width: int,
        match_dim: int = 64,
        number_table: torch.Tensor | None = None,
        lexical: bool = True,
        state_dropout: float = 0.0,
        distinct: bool = False,
        rank: bool = False,
        separator_ids: torch.Tensor | None = None,
        context: bool = False,
    ) -> None:
        super().__init__()
        self.lexical = lexical
        """Whether the token-id features take part: the exact-match flags, the match term and the number
        comparison. Off, candidates are matched from token states alone (what the backbone knows)."""
        self.context = context and lexical
        """Whether instruction matches are also flagged by their neighbouring words (context_matches)."""
        flags = 4 if self.context else 2
        self.distinct = distinct and lexical
        """Whether instruction matches also count weighted by :func:`page_distinctness` (a term of their
        own in the score, with one learned weight starting at 1)."""
        # Dropout on the token states the head reads (training only; PolicyConfig.state_dropout).
        self.state_dropout = nn.Dropout(state_dropout)
        # Attention runs in a small space (match_dim): it is computed for every token of every candidate,
        # so its cost, not the backbone's, would otherwise dominate PPO updates on cached encodings.
        self.cand_token_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, match_dim))
        self.key_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, match_dim))
        self.value_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, match_dim))
        self.obs_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, width))
        self.request_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, width))
        self.cand_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, width))
        # Added to a candidate token's query when its id occurs in the instruction / the history.
        self.match_embed = nn.Parameter(torch.zeros(flags, match_dim))
        # How much a matched token counts (learned from its state: "white" does, "option" does not), and the
        # weight of instruction and history matches in the score.
        self.salience = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, 1))
        self.match_weights = nn.Parameter(torch.tensor([1.0] + [0.0] * (flags - 1)))
        if self.distinct:
            self.distinct_weight = nn.Parameter(torch.tensor(1.0))
        # Numbers: each of a candidate's numbers reads the instruction's numbers it relates to (a price
        # reads "under 40 dollars", not "size 11") and is compared with them in log space.
        self.numbers: torch.Tensor | None
        self.register_buffer("numbers", number_table, persistent=False)
        # Token ids of the separator between a candidate's command and its description: when given, the
        # instruction flags and the numbers read only the description (see description_tokens).
        self.separators: torch.Tensor | None
        self.register_buffer("separators", separator_ids, persistent=False)
        self.number_query = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, NUMBER_DIM))
        self.number_key = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, NUMBER_DIM))
        self.number_gate = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, 1))
        # The closeness bump starts at weight 1, as instruction matches do: a number the request states
        # ("4 passengers", "the 7th result", "size 8") is evidence for the candidate that shows it. At 0,
        # BC on few demonstrations memorises them through the MLP before the weight moves (WebFormSearch,
        # 80 demonstrations: the weights stayed within 0.05 of 0 while the train loss reached 0).
        self.number_weights = nn.Parameter(torch.tensor([0.0] * len(NUMBER_SCALES) + [1.0]))
        self.rank = rank and lexical
        """Whether each candidate's number is ranked among its page's other candidates' numbers."""
        extra = 0
        if self.rank:
            # Which of a candidate's numbers is ranked (from its state and what it read of the request),
            # and the weight of each rank feature (from the request: "cheapest" wants the smallest).
            self.rank_gate_state = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, 1))
            self.rank_gate_read = nn.Linear(match_dim, 1)
            self.rank_query = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, NUMBER_DIM))
            self.rank_key = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, NUMBER_DIM))
            weights = nn.Linear(hidden_size, RANK_FEATURES)
            nn.init.zeros_(weights.weight)
            nn.init.zeros_(weights.bias)
            self.rank_weights = nn.Sequential(nn.LayerNorm(hidden_size), weights)
            extra = RANK_FEATURES
        features = 5 * width + 2 * match_dim + flags + len(NUMBER_SCALES) + 1 + extra
        self.scorer = nn.Sequential(nn.Linear(features, width), nn.GELU(), nn.Linear(width, 1))
        self.value_head = value_mlp(hidden_size, width)

    def score_tokens(
        self,
        obs_tokens: torch.Tensor,
        obs_mask: torch.Tensor,
        query: torch.Tensor,
        cand_tokens: torch.Tensor,
        cand_mask: torch.Tensor,
        valid: torch.Tensor,
        obs_ids: torch.Tensor,
        cand_ids: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``[N]`` of the valid candidates and the pooled observation ``[B, H]``.

        Args:
            obs_tokens: ``[B, Lp, H]`` observation token states.
            obs_mask: ``[B, Lp]`` their attention mask.
            query: ``[B, Lp]`` marks: ``INSTRUCTION_MARK`` / ``HISTORY_MARK`` tokens (0 elsewhere).
            cand_tokens: ``[N, Lc, H]`` states of the valid candidates (row-major over ``valid``).
            cand_mask: ``[N, Lc]`` their attention mask.
            valid: ``[B, K]`` which candidate slots are in use.
            obs_ids: ``[B, Lp]`` the observation's token ids.
            cand_ids: ``[N, Lc]`` the valid candidates' token ids.
        """
        obs_tokens, cand_tokens = self.state_dropout(obs_tokens), self.state_dropout(cand_tokens)
        obs_mask_f = obs_mask.to(obs_tokens.dtype)
        obs_h = mean_pool(obs_tokens, obs_mask_f)
        request = query.bool() & obs_mask.bool()
        # Rows without instruction marks (an encoder that cannot mark them) read the whole observation.
        request = torch.where(request.any(1, keepdim=True), request, obs_mask.bool())
        request_h = mean_pool(obs_tokens, request.to(obs_tokens.dtype))
        # The keys are the instruction + history tokens (a prefix of each row): what a candidate must
        # match. The page reaches the score through the pooled observation, and attending over its
        # hundreds of tokens from every candidate token would cost several times the whole head.
        span = int(request.nonzero(as_tuple=True)[1].max()) + 1
        keys = self.key_proj(obs_tokens[:, :span])  # [B, S, D]
        values = self.value_proj(obs_tokens[:, :span])
        rows = valid.nonzero(as_tuple=True)[0]
        tokens = cand_mask.bool().unsqueeze(-1)
        found = exact_matches(cand_ids, obs_ids[rows, :span], query[rows, :span] * request[rows, :span])
        found = found & tokens if self.lexical else torch.zeros_like(found)  # [N, Lc, 2]
        described = self.description_tokens(cand_ids, cand_mask)
        flags = [found[..., 0] & described, found[..., 1]]
        if self.context:
            instruction_marks = (query[rows, :span] == INSTRUCTION_MARK) & request[rows, :span]
            flags += context_matches(
                cand_ids, described, obs_ids[rows, :span], instruction_marks, self.numbers
            )
        found = torch.stack(flags, dim=-1)
        queries = self.cand_token_proj(cand_tokens) + found.to(cand_tokens.dtype) @ self.match_embed
        # Each observation's valid candidates, packed into the first slots: a fixed-shape SB3 view has K
        # (up to max_candidates) slots of which a page uses a few, and attention should not pay for the rest.
        slots = (valid.cumsum(1) - 1)[valid]
        b, k = valid.shape[0], int(valid.sum(1).max())
        lc, dim = queries.shape[1], queries.shape[2]
        dense = queries.new_zeros((b, k, lc, dim))
        dense[rows, slots] = queries
        read = F.scaled_dot_product_attention(
            dense.reshape(b, k * lc, dim), keys, values, attn_mask=request[:, :span].unsqueeze(1)
        )
        read = read.reshape(b, k, lc, dim)[rows, slots]  # [N, Lc, D]
        agree = read * queries
        count = tokens.sum(1).clamp(min=1)
        agree_mean = agree.masked_fill(~tokens, 0.0).sum(1) / count
        agree_max = agree.masked_fill(~tokens, torch.finfo(agree.dtype).min).amax(1)
        o = self.obs_proj(obs_h)[rows]
        r = self.request_proj(request_h)[rows]
        c = self.cand_proj(mean_pool(cand_tokens, cand_mask.to(cand_tokens.dtype)))
        shares = found.sum(1).to(agree.dtype) / count  # [N, flags]
        instruction = query[:, :span] == INSTRUCTION_MARK
        numbers = self.compare_numbers(
            cand_tokens, cand_ids, described, obs_tokens[:, :span], obs_ids[:, :span], instruction, rows
        )
        parts = [o, c, o * c, r, r * c, agree_mean, agree_max, shares, numbers]
        ranks = None
        if self.rank:
            ranks = self.rank_numbers(cand_tokens, cand_ids, described, agree, rows, valid)
            parts.append(ranks)
        features = torch.cat(parts, dim=-1)
        weight = F.softplus(self.salience(cand_tokens))  # [N, Lc, 1]
        matched = (found.to(weight.dtype) * weight).sum(1)  # [N, flags]
        direct = matched @ self.match_weights.to(matched.dtype)
        if self.distinct:
            # Instruction matches again, each weighted by how few of the page's candidates share it.
            idf = page_distinctness(cand_ids, cand_mask, rows).to(weight.dtype).unsqueeze(-1)
            distinct = (found[..., :1].to(weight.dtype) * idf * weight).sum((1, 2))
            direct = direct + distinct * self.distinct_weight.to(distinct.dtype)
        direct = direct + numbers @ self.number_weights.to(numbers.dtype)
        if ranks is not None:
            direct = direct + (ranks * self.rank_weights(request_h)[rows].to(ranks.dtype)).sum(-1)
        return self.scorer(features).squeeze(-1) + direct, obs_h

    def description_tokens(self, cand_ids: torch.Tensor, cand_mask: torch.Tensor) -> torch.Tensor:
        """``[N, Lc]``: the candidate tokens the instruction flags and the number features read.

        Without separator ids, every real token. With them, a candidate that holds a separator
        (``click[7] | link "Ada Usman" (item 7)``) counts from its first separator on: the command's own
        tokens are an element number (``7``, no quantity: beside "the 7th result" it would match the
        wrong link) and arguments its description repeats (``type "red shirt"``, ``option "m"``). The
        history flags still read the command: history lines are commands.
        """
        real = cand_mask.bool()
        if self.separators is None:
            return real
        separator = torch.isin(cand_ids, self.separators) & real
        after = torch.cumsum(separator.long(), dim=1) > 0
        return torch.where(separator.any(1, keepdim=True), after & real, real)

    def rank_numbers(
        self,
        cand_tokens: torch.Tensor,
        cand_ids: torch.Tensor,
        cand_mask: torch.Tensor,
        agree: torch.Tensor,
        rows: torch.Tensor,
        valid: torch.Tensor,
    ) -> torch.Tensor:
        """``[N, RANK_FEATURES]``: how each candidate's number ranks among its page's other candidates'.

        "The cheapest flight" names no number to compare with (:meth:`compare_numbers` has nothing to
        read), only a comparison between the candidates. Each number of a candidate finds the number of
        every other candidate of its page that plays the same part (attention over that candidate's
        numbers, from the token states: a price finds the price, not the flight number) and compares with
        it: ``tanh(RANK_SCALE * (log1p(other) - log1p(own)))``, positive when its own is the smaller. Per
        number, the features are the mean over the others (its rank), the minimum (1 only for the
        smallest) and the maximum (-1 only for the largest). A softmax over the candidate's numbers,
        from each number's state and from what it read of the request (``agree``, ``[N, Lc, D]``), picks
        which of them count (the price for "cheapest", the duration for "shortest"). Zeros for a candidate
        without numbers or alone on its page with them. Every comparison and pick enters the features
        linearly, so the picks learn even where the comparisons saturate.
        """
        n = cand_tokens.shape[0]
        zeros = cand_tokens.new_zeros((n, RANK_FEATURES))
        if self.numbers is None or n == 0:
            return zeros
        shown = token_numbers(cand_ids, self.numbers)
        ok = ~torch.isnan(shown) & cand_mask.bool()
        if not ok.any():
            return zeros
        hidden = cand_tokens.shape[-1]
        ok, value, picked = _compact(ok, torch.log1p(shown.clamp(min=0)), torch.cat([cand_tokens, agree], -1))
        states, read = picked[..., :hidden], picked[..., hidden:]
        logit = (self.rank_gate_state(states) + self.rank_gate_read(read)).squeeze(-1)
        gate = torch.softmax(logit.masked_fill(~ok, torch.finfo(logit.dtype).min), dim=-1) * ok  # [N, W]
        # The page's candidates side by side, [B, K, W, ...]: slot (row, k) holds a valid candidate.
        slots = (valid.cumsum(1) - 1)[valid]
        b, k, w = valid.shape[0], int(valid.sum(1).max()), ok.shape[1]

        def dense(x: torch.Tensor) -> torch.Tensor:
            out = x.new_zeros((b, k, *x.shape[1:]))
            out[rows, slots] = x
            return out

        page_ok, page_value, page_gate = dense(ok), dense(value), dense(gate)
        query, key = dense(self.rank_query(states)), dense(self.rank_key(states))
        result = cand_tokens.new_zeros((b, k, RANK_FEATURES))
        chunk = max(1, RANK_CHUNK // max(1, (k * w) ** 2))  # pages per chunk: bounds [c, K, W, K, W]
        for start in range(0, b, chunk):
            part = slice(start, start + chunk)
            result[part] = self._rank_pages(
                page_ok[part], page_value[part], page_gate[part], query[part], key[part]
            )
        return result[rows, slots]

    @staticmethod
    def _rank_pages(
        ok: torch.Tensor, value: torch.Tensor, gate: torch.Tensor, query: torch.Tensor, key: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`rank_numbers` of pages side by side: ``[P, K, W]`` numbers, ``[P, K, W, D]`` projections."""
        p, k, w = ok.shape
        # align[p, n, i, m, j]: how much number j of candidate m plays the part of number i of candidate n.
        logits = torch.einsum("pnid,pmjd->pnimj", query, key) / math.sqrt(query.shape[-1])
        there = ok[:, None, None, :, :]  # [P, 1, 1, K, W]
        logits = logits.masked_fill(~there, torch.finfo(logits.dtype).min)
        align = torch.softmax(logits, dim=-1) * there
        step = torch.tanh(RANK_SCALE * (value[:, None, None, :, :] - value[:, :, :, None, None]))
        versus = (align * step).sum(-1)  # [P, K(n), W(i), K(m)]
        has = ok.any(-1)  # [P, K]
        others = has[:, None, :] & has[:, :, None] & ~torch.eye(k, dtype=torch.bool, device=ok.device)
        others = others[:, :, None, :].expand(p, k, w, k)
        count = others.sum(-1)
        mean = (versus * others).sum(-1) / count.clamp(min=1)
        low = versus.masked_fill(~others, 1.0).amin(-1)
        high = versus.masked_fill(~others, -1.0).amax(-1)
        per_number = torch.stack([mean, low, high], dim=-1) * (count > 0).unsqueeze(-1)  # [P, K, W, F]
        return (gate.unsqueeze(-1) * per_number).sum(2)

    def compare_numbers(
        self,
        cand_tokens: torch.Tensor,
        cand_ids: torch.Tensor,
        cand_mask: torch.Tensor,
        obs_tokens: torch.Tensor,
        obs_ids: torch.Tensor,
        instruction: torch.Tensor,
        rows: torch.Tensor,
    ) -> torch.Tensor:
        """``[N, len(NUMBER_SCALES) + 1]``: how each candidate's numbers compare with the instruction's.

        Each number of a candidate attends over the instruction's numbers (``[B, S]`` states, ids and
        marks of the observations; ``rows[n]`` is candidate ``n``'s observation). The log-space difference
        ``d = log1p(asked) - log1p(shown)`` of what it reads goes through ``tanh(scale * d)`` (positive:
        the candidate's number is below the asked one) and a closeness bump, and a softmax over the
        candidate's numbers weighs which of them count (its price, not its review count). Zeros without a
        number table or without numbers on either side.
        """
        zeros = cand_tokens.new_zeros((cand_tokens.shape[0], len(NUMBER_SCALES) + 1))
        if self.numbers is None or not self.lexical:
            return zeros
        shown = token_numbers(cand_ids, self.numbers)
        asked = token_numbers(obs_ids, self.numbers)
        shown_ok = ~torch.isnan(shown) & cand_mask.bool()
        asked_ok = ~torch.isnan(asked) & instruction
        if not (shown_ok.any() and asked_ok.any()):
            return zeros
        # Only number tokens take part: move them to the front of their rows and project just those.
        shown_ok, shown, shown_states = _compact(shown_ok, shown, cand_tokens)  # [N, Wc]
        asked_ok, asked, asked_states = _compact(asked_ok, asked, obs_tokens)  # [B, Wa]
        dtype = cand_tokens.dtype
        q = self.number_query(shown_states)  # [N, Wc, d]
        k = self.number_key(asked_states)[rows]  # [N, Wa, d]
        asked_ok, asked = asked_ok[rows], asked[rows]
        logits = torch.einsum("nld,nsd->nls", q, k) / math.sqrt(NUMBER_DIM)
        logits = logits.masked_fill(~asked_ok.unsqueeze(1), torch.finfo(logits.dtype).min)
        attend = torch.softmax(logits, dim=-1) * asked_ok.any(-1).to(dtype)[:, None, None]
        diff = (
            torch.log1p(asked.clamp(min=0)).unsqueeze(1) - torch.log1p(shown.clamp(min=0)).unsqueeze(2)
        ).to(dtype)
        parts = [torch.tanh(scale * diff) for scale in NUMBER_SCALES] + [torch.exp(-((10.0 * diff) ** 2))]
        compared = torch.stack([(attend * part).sum(-1) for part in parts], dim=-1)  # [N, Wc, F]
        # Which of the candidate's numbers count: a softmax over them (its price, not its review count).
        pick = self.number_gate(shown_states).squeeze(-1).masked_fill(~shown_ok, torch.finfo(dtype).min)
        gate = torch.softmax(pick, dim=-1) * shown_ok.any(-1, keepdim=True).to(dtype)  # [N, Wc]
        return (gate.unsqueeze(-1) * compared).sum(1)

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits [B, K], value [B])`` for a web batch with ``obs_query`` marks."""
        enc = encode_token_batch(backbone, batch)
        logits = torch.full(enc.valid.shape, NEG_INF, dtype=torch.float32, device=enc.obs_tokens.device)
        if enc.cand_tokens is None or enc.cand_mask is None or enc.cand_ids is None:
            obs_h = mean_pool(enc.obs_tokens, enc.obs_mask.to(enc.obs_tokens.dtype))
            return logits, self.value_head(obs_h).squeeze(-1)
        valid = enc.valid
        scores, obs_h = self.score_tokens(
            enc.obs_tokens,
            enc.obs_mask,
            enc.query,
            enc.cand_tokens,
            enc.cand_mask,
            valid,
            enc.obs_ids,
            enc.cand_ids,
        )
        logits = logits.masked_scatter(valid, scores.to(logits.dtype))
        return logits, self.value_head(obs_h).squeeze(-1)


class GenerativeScorerHead(nn.Module):
    """Scores each admissible command by its log-likelihood under a causal LM, given the observation prompt.

    ``score(command) = sum_t log p(token_t | prompt, token_<t)`` (or the mean with ``length_normalize``);
    the command tokens end with EOS so a command is not rewarded for being a prefix of a longer one. The
    only trained parameters outside the LM are the value head's (the scorer is the LM itself).
    """

    def __init__(self, hidden_size: int, width: int, length_normalize: bool = False) -> None:
        super().__init__()
        self.length_normalize = length_normalize
        self.value_head = value_mlp(hidden_size, width)

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits [B, K], value [B])`` for a web batch with left-padded prompts."""
        valid = batch["cand_valid"]
        rows, slots = valid.nonzero(as_tuple=True)
        # Rows without any candidate still need their prompt encoded for the value: give them one empty
        # continuation (fully masked, it contributes no log-probability).
        empty = (~valid.any(dim=1)).nonzero(as_tuple=True)[0]
        pair_rows = torch.cat([rows, empty])
        cont_ids = batch["cand_ids"][rows, slots]
        cont_mask = batch["cand_mask"][rows, slots]
        if len(empty):
            cont_ids = torch.cat([cont_ids, cont_ids.new_zeros((len(empty), batch["cand_ids"].shape[2]))])
            cont_mask = torch.cat([cont_mask, cont_mask.new_zeros((len(empty), batch["cand_mask"].shape[2]))])
        token_lp, prompt_h = backbone.continuation_log_probs(
            batch["obs_ids"], batch["obs_mask"], cont_ids, cont_mask, pair_rows
        )
        scores = token_lp[: len(rows)].sum(-1)
        if self.length_normalize:
            scores = scores / cont_mask[: len(rows)].sum(-1).clamp(min=1)
        logits = torch.full(valid.shape, NEG_INF, dtype=scores.dtype, device=scores.device)
        logits = logits.index_put((rows, slots), scores)
        return logits, self.value_head(prompt_h.to(scores.dtype)).squeeze(-1)


def coord_channels(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """Normalised (x, y) coordinates in [-1, 1] as two channels ``[B, 2, H, W]`` (CoordConv)."""
    ys = torch.linspace(-1.0, 1.0, height, device=device)
    xs = torch.linspace(-1.0, 1.0, width, device=device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y]).unsqueeze(0).expand(batch, -1, -1, -1)


def _standardise(depth: torch.Tensor) -> torch.Tensor:
    """Per-image zero-mean, unit-std depth ``[B, 1, h, w]`` (a single pixel has no spread: std 1)."""
    mean = depth.mean(dim=(2, 3), keepdim=True)
    h, w = depth.shape[-2:]
    std = depth.std(dim=(2, 3), keepdim=True) if h * w > 1 else torch.ones_like(mean)
    return (depth - mean) / (std + 1e-6)


def _film(layer: nn.Module | None, x: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
    """FiLM: scale and shift each channel of ``x`` by the instruction (identity without ``layer``/text)."""
    if layer is None or text is None:
        return x
    gamma, beta = layer(text).chunk(2, dim=-1)
    return x * (1 + gamma[..., None, None]) + beta[..., None, None]


class _PickPlaceStream(nn.Module):
    """One of the two streams (pick or place): FiLM by the instruction, conv, upsample to the grid.

    With ``pixel_channels > 0`` the grid-resolution stage also sees the raw image (and depth) resized to
    the grid, and is FiLM-conditioned by the instruction a second time there: with a top-down view the
    pixels are aligned with the action cells, so a small conv can find *which* cell holds the object the
    instruction names, which the backbone's stride-32 features (2 x 3 cells on a 64 x 96 heightmap)
    cannot localise on their own (Transporter / CLIPort's reason for full-resolution streams).
    """

    def __init__(
        self,
        width: int,
        text_hidden: int,
        extra_channels: int,
        grid_size: int,
        yaw_bins: int,
        pixel_channels: int = 0,
    ) -> None:
        super().__init__()
        self.grid_size = grid_size
        self.film = nn.Linear(text_hidden, 2 * width) if text_hidden else None
        # The grid is large (grid_size^2 cells): a narrower conv there keeps the head cheap on CPU.
        grid_width = max(width // 8, 16)
        self.out_channels = grid_width
        self.pixel_channels = pixel_channels
        self.fuse = nn.Sequential(nn.Conv2d(width + extra_channels, grid_width, 3, padding=1), nn.ReLU())
        self.refine = nn.Sequential(
            nn.Conv2d(grid_width + 2 + pixel_channels, grid_width, 3, padding=1), nn.ReLU()
        )
        if pixel_channels:
            self.grid_film = nn.Linear(text_hidden, 2 * grid_width) if text_hidden else None
            self.refine2 = nn.Sequential(nn.Conv2d(grid_width, grid_width, 3, padding=1), nn.ReLU())
        self.heatmap = nn.Conv2d(grid_width, 1, 1)
        self.yaw = nn.Linear(grid_width, yaw_bins)

    def forward(
        self,
        features: torch.Tensor,
        extra: torch.Tensor,
        text: torch.Tensor | None,
        pixels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.fuse(torch.cat([_film(self.film, features, text), extra], dim=1))
        g = self.grid_size
        x = F.interpolate(x, size=(g, g), mode="bilinear", align_corners=False)
        parts = [x, coord_channels(x.shape[0], g, g, x.device)]
        if self.pixel_channels:
            if pixels is None:
                raise ValueError("this stream was built with pixel_channels and needs the pixels")
            parts.append(pixels)
        x = self.refine(torch.cat(parts, dim=1))
        if self.pixel_channels:
            x = self.refine2(_film(self.grid_film, x, text))
        pooled = x.mean(dim=(2, 3))
        return self.heatmap(x).flatten(1), self.yaw(pooled), pooled


class PickPlaceHead(nn.Module):
    """Instruction-conditioned pick-and-place head (CLIPort-style two-stream fusion, FiLM conditioning).

    Image features ``[B, C, h, w]`` from the backbone are projected to ``width`` channels, concatenated
    with coordinate channels (and the normalised depth map when the env has one), conditioned on the
    instruction embedding by FiLM separately for the pick and the place stream, upsampled to a
    ``grid_size x grid_size`` grid of table cells and read out as heatmap logits. Yaw is a categorical
    over ``yaw_bins``. Logits are ``[pick cell (G*G) | pick yaw (R) | place cell (G*G) | place yaw (R)]``,
    i.e. the flattened logits of a ``MultiDiscrete([G*G, R, G*G, R])`` action. A vision-only backbone
    gives a language-blind head (no FiLM). ``pixel_skip`` feeds the image (and depth) resized to the grid
    into the grid-resolution stage of both streams (see :class:`_PickPlaceStream`). With ``state_size``
    the batch's ``state`` vector (the step index of a multi-step episode) is projected and added to the
    instruction embedding, so FiLM conditions on both (a language-blind head ignores it).
    """

    def __init__(
        self,
        vision_channels: int,
        text_hidden: int,
        width: int,
        grid_size: int,
        yaw_bins: int,
        has_depth: bool,
        pixel_skip: bool = False,
        state_size: int = 0,
    ) -> None:
        super().__init__()
        self.state_proj = (
            nn.Sequential(nn.Linear(state_size, text_hidden), nn.Tanh())
            if state_size and text_hidden
            else None
        )
        self.has_depth = has_depth
        self.grid_size = grid_size
        self.pixel_skip = pixel_skip
        self.proj = nn.Sequential(nn.Conv2d(vision_channels, width, 1), nn.ReLU())
        extra = 2 + int(has_depth)
        pixel_channels = 3 + int(has_depth) if pixel_skip else 0
        self.pick = _PickPlaceStream(width, text_hidden, extra, grid_size, yaw_bins, pixel_channels)
        self.place = _PickPlaceStream(width, text_hidden, extra, grid_size, yaw_bins, pixel_channels)
        self.value_head = value_mlp(2 * self.pick.out_channels, width)

    def forward(
        self, backbone: Backbone, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(logits [B, 2 * (G*G + R)], value [B])`` for a tabletop batch."""
        features = self.proj(backbone.encode_image(batch["rgb"]))
        b, _, h, w = features.shape
        extra = [coord_channels(b, h, w, features.device)]
        if self.has_depth:
            extra.append(_standardise(F.adaptive_avg_pool2d(batch["depth"].unsqueeze(1), (h, w))))
        extra_t = torch.cat(extra, dim=1)
        pixels = None
        if self.pixel_skip:
            g = self.grid_size
            image = batch["rgb"]
            if self.has_depth:
                image = torch.cat([image, _standardise(batch["depth"].unsqueeze(1))], dim=1)
            pixels = F.interpolate(image, size=(g, g), mode="bilinear", align_corners=False)
        text = backbone.encode_text(batch["instr_ids"], batch["instr_mask"]) if "instr_ids" in batch else None
        if self.state_proj is not None and text is not None and "state" in batch:
            text = text + self.state_proj(batch["state"]).to(text.dtype)
        pick_map, pick_yaw, pick_pooled = self.pick(features, extra_t, text, pixels)
        place_map, place_yaw, place_pooled = self.place(features, extra_t, text, pixels)
        logits = torch.cat([pick_map, pick_yaw, place_map, place_yaw], dim=1)
        value = self.value_head(torch.cat([pick_pooled, place_pooled], dim=1)).squeeze(-1)
        return logits, value
