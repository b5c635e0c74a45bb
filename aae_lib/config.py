"""A training run's settings: ``TrainConfig``, frozen and validated when it is made.

The model's own settings are a ``ModelConfig`` (:mod:`aae_lib.models`) inside it. A checkpoint
resumes only into an equal config, apart from ``RESUMABLE_CHANGES``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .data import N_CLASSES
from .models import ModelConfig

# The reference's loss weights. A weight scales its phase's learning rate relative to these
# values: the reference feeds each weighted loss to its own Adam, which is blind to a constant
# factor on the loss, so its weight flags did nothing. Here the defaults reproduce the
# reference exactly and any other value really changes how fast that phase learns.
REFERENCE_WEIGHTS = {
    "reconstruction": 1.0,
    "generator_z": 6.0,
    "discriminator_z": 6.0,
    "classification": 1.0,
    "generator_y": 6.0,
    "discriminator_y": 6.0,
}

# Settings that a resumed run may change; the manifest records each change and when. Moving a
# milestone lets a run drop its learning rate when its curves have flattened.
RESUMABLE_CHANGES = (
    "epochs",
    "lr",
    "adversarial_lr",
    "classification_lr",
    "weights",
    "lr_milestones",
)


@dataclass(frozen=True)
class TrainConfig:
    """A training run. Defaults are the reference's (seed README) hyperparameters."""

    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 100
    batch_size: int = 128
    optimizer: str = "adam"  # "adam" (reference) or "sgd" (paper)
    lr: float = 2e-4  # reconstruction, and every phase whose own lr is None
    adversarial_lr: float | None = None
    classification_lr: float | None = None
    momentum: float = 0.5  # Adam's beta1 or SGD's momentum
    adversarial_momentum: float | None = None
    lr_milestones: tuple[int, ...] = (100, 300)  # epochs at which every lr is divided by 10
    weights: dict[str, float] = field(default_factory=lambda: dict(REFERENCE_WEIGHTS))
    noise_std: float = 0.0  # std of input noise in [0, 1] pixel units (paper: 0.3)
    # Fraction of the encoder's input pixels zeroed in training (the paper's clustering: 0.2)
    input_dropout: float = 0.0
    dropout_keep: float = 1.0
    n_labeled: int | None = None  # labels the model may see; None = every label
    classify: bool = False  # a classification phase on the labeled images (semi-supervised)
    validation: bool = False  # hold out 10 000 training images for validation
    classify_every: int = 1  # classification step every n minibatches
    # Discriminator steps per generator step (the k of Goodfellow et al. 2014). The reference
    # and the paper take one; a stronger adversary can push more of a feature out of the code.
    discriminator_steps: int = 1
    seed: int = 0
    # The labeled images and the validation split; None: ``seed``. A separate seed keeps one
    # label draw while the initial weights and the batch order change.
    label_seed: int | None = None
    # "bf16": bfloat16 autocast for the forward passes; "auto": bf16 where the hardware does it
    # natively and a start-up probe finds it faster, fp32 elsewhere (aae_lib.precision)
    precision: str = "auto"

    def __post_init__(self):
        problems = []
        if self.precision not in ("auto", "fp32", "bf16"):
            problems.append(f"precision must be auto, fp32 or bf16, not {self.precision!r}")
        if self.optimizer not in ("adam", "sgd"):
            problems.append(f"optimizer must be adam or sgd, not {self.optimizer!r}")
        for name in ("epochs", "batch_size", "classify_every", "discriminator_steps"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, not {getattr(self, name)}")
        rates = {
            "lr": self.lr,
            "adversarial_lr": self.adversarial_lr,
            "classification_lr": self.classification_lr,
            "momentum": self.momentum,
            "adversarial_momentum": self.adversarial_momentum,
        }
        for name, value in rates.items():
            if value is not None and not (math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a finite number >= 0, not {value}")
        for name in ("lr", "adversarial_lr", "classification_lr"):
            if rates[name] == 0:
                problems.append(f"{name} is 0: nothing would be trained")
        if not 0.0 < self.dropout_keep <= 1.0:
            problems.append(f"dropout keep probability must be in (0, 1], not {self.dropout_keep}")
        if not 0.0 <= self.input_dropout < 1.0:
            problems.append(f"input dropout must be in [0, 1), not {self.input_dropout}")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            problems.append(f"noise std must be a finite number >= 0, not {self.noise_std}")
        unknown = set(self.weights) - set(REFERENCE_WEIGHTS)
        if unknown:
            problems.append(f"unknown loss weights {sorted(unknown)}")
        bad_weights = {k: w for k, w in self.weights.items() if not (math.isfinite(w) and w > 0)}
        if bad_weights:
            problems.append(f"loss weights must be finite and positive, not {bad_weights}")
        if self.n_labeled is not None and self.n_labeled < self.model.n_classes:
            problems.append(f"n_labeled must be at least one per class, not {self.n_labeled}")
        if self.classify and self.model.n_classes != N_CLASSES:
            problems.append(
                f"a classification phase needs a categorical head of {N_CLASSES} classes"
            )
        if self.model.decoder_input == "code+label" and self.n_labeled is not None:
            problems.append("a decoder given the true label needs every label: n_labeled None")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        """A flat JSON-able dict, as stored in manifests."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        values["lr_milestones"] = list(self.lr_milestones)
        return {**values, "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        values = dict(values)
        model = ModelConfig.from_dict(values.pop("model"))
        return cls(model=model, **{**values, "lr_milestones": tuple(values["lr_milestones"])})

    @property
    def label_draw_seed(self) -> int:
        """The seed that draws the labeled images and the validation split."""
        return self.seed if self.label_seed is None else self.label_seed

    @property
    def phases(self) -> list[str]:
        """The optimised phases, in the order they run on a minibatch."""
        names = ["reconstruction"]
        for adversary in self.model.adversaries:
            names += [f"discriminator_{adversary.judges}", f"generator_{adversary.judges}"]
        return names + (["classification"] if self.classify else [])

    def phase_lr(self, phase: str, epoch: int = 0) -> float:
        """The phase's learning rate in ``epoch``: divided by 10 at each milestone passed."""
        base = {"reconstruction": self.lr, "classification": self.classification_lr}.get(
            phase, self.adversarial_lr
        )
        weight = self.weights.get(phase, REFERENCE_WEIGHTS[phase])
        decay = 0.1 ** sum(epoch >= m for m in self.lr_milestones)
        return (self.lr if base is None else base) * weight / REFERENCE_WEIGHTS[phase] * decay

    def phase_momentum(self, phase: str) -> float:
        adversarial = phase.startswith(("generator", "discriminator"))
        if adversarial and self.adversarial_momentum is not None:
            return self.adversarial_momentum
        return self.momentum
