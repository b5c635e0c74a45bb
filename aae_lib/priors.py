"""Prior distributions imposed on the code, each an object with its capabilities.

A prior samples (``sample``), samples per label (``sample_for_labels``), gives its
log-density and a VAE's KL term (``log_prob``, ``kl_divergence``), names the part of itself a
code lies in (``nearest_component``, where ``labels_pick_components``) and the grids its
manifold is drawn on (``manifold_grids``). Nothing outside this module asks which prior it
has: a new prior is a class here, an entry in ``PRIORS`` and a recipe.

Every prior samples on the device of its generator, so training never moves samples between
host and accelerator. Labels follow one convention throughout the package: 0..9 are digits,
``UNLABELED`` (10, defined in ``data``) marks an image whose label the model may not use.
"""

from __future__ import annotations

import math

import torch

from .data import N_CLASSES, UNLABELED


class Prior:
    """A distribution over ``ncode``-dimensional codes, optionally conditioned on labels."""

    name: str

    def __init__(self, ncode: int):
        if ncode < 1:
            raise ValueError(f"ncode must be positive, got {ncode}")
        self.ncode = ncode

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Draw ``n`` codes from the whole distribution."""
        raise NotImplementedError

    def sample_for_labels(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draw one code per label; ``UNLABELED`` entries come from the whole distribution."""
        return self.sample(len(labels), generator)

    # Whether labels choose a part of the prior (``sample_for_labels``) that
    # ``nearest_component`` can name back from a code.
    labels_pick_components = False

    @classmethod
    def build(cls, ncode: int, mixture_radius: float = 1.4) -> Prior:
        """The prior for a model's config; each prior takes the shape settings it has."""
        return cls(ncode)

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """log p(z) of each code, (N,): what a VAE's KL term needs. An adversary never needs
        it, which is why an AAE can use priors whose density has no closed form."""
        raise NotImplementedError(f"the {self.name} prior has no log-density here")

    def kl_divergence(
        self, mean: torch.Tensor, std: torch.Tensor, codes: torch.Tensor
    ) -> torch.Tensor:
        """KL(q(z|x) || p(z)) per image for a diagonal Gaussian q, (N,): here the one-sample
        estimate log q(z|x) - log p(z) at ``codes`` drawn from q; a prior with a closed form
        overrides it."""
        log_q = torch.distributions.Normal(mean, std).log_prob(codes).sum(1)
        return log_q - self.log_prob(codes)

    def nearest_component(self, codes: torch.Tensor) -> torch.Tensor:
        """The part of the prior each code lies in (where labels pick parts)."""
        raise NotImplementedError(f"the {self.name} prior has no parts for labels")

    def manifold_grids(self) -> dict[str, torch.Tensor]:
        """Named grids of codes over which the decoder's manifold is drawn (2-D codes)."""
        return {"manifold": linear_grid(), "manifold_percentile": percentile_grid()}


class GaussianPrior(Prior):
    """N(0, I): labels carry no information about where a code should be."""

    name = "gaussian"

    def sample(self, n, generator):
        return torch.randn(n, self.ncode, generator=generator, device=generator.device)

    def log_prob(self, codes):
        return -0.5 * codes.square().sum(1) - self.ncode / 2 * math.log(2 * math.pi)

    def kl_divergence(self, mean, std, codes):
        """In closed form: 0.5 * sum(mean² + std² - 1 - 2 log std)."""
        return 0.5 * (mean.square() + std.square() - 1 - 2 * std.log()).sum(1)


class PinwheelMixture(Prior):
    """Ten elongated 2-D Gaussians on a circle, the mixture of the paper's Fig 3/4.

    Component k sits at radius ``radius`` and angle 2πk/10, with standard deviation
    ``radial_std`` along the radius and ``tangential_std`` across it. For ``ncode > 2`` each
    pair of coordinates is an independent draw from the same pinwheel and the same component.
    """

    name = "gmm"
    labels_pick_components = True

    @classmethod
    def build(cls, ncode, mixture_radius=1.4):
        return cls(ncode, radius=mixture_radius)

    def __init__(
        self,
        ncode: int = 2,
        n_components: int = N_CLASSES,
        radius: float = 1.4,
        radial_std: float = 0.5,
        tangential_std: float = 0.1,
    ):
        super().__init__(ncode)
        if ncode % 2:
            raise ValueError(f"the mixture prior needs an even ncode, got {ncode}")
        self.n_components = n_components
        self.radius = radius
        self.radial_std = radial_std
        self.tangential_std = tangential_std
        angles = 2 * math.pi * torch.arange(n_components, dtype=torch.float64) / n_components
        self.angles = angles.float()

    def means(self) -> torch.Tensor:
        """Centres of the components, (n_components, 2)."""
        return self.radius * torch.stack([self.angles.cos(), self.angles.sin()], dim=1)

    def place(self, local: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
        """Map (radial, tangential) offsets of shape (..., 2) onto their components' frames."""
        angle = self.angles.to(local.device)[components]
        cos, sin = angle.cos(), angle.sin()
        radial = local[..., 0] + self.radius
        tangential = local[..., 1]
        return torch.stack([radial * cos - tangential * sin, radial * sin + tangential * cos], -1)

    def sample_components(self, components: torch.Tensor, generator: torch.Generator):
        n_pairs = self.ncode // 2
        noise = torch.randn(
            len(components), n_pairs, 2, generator=generator, device=generator.device
        )
        scale = torch.tensor([self.radial_std, self.tangential_std], device=noise.device)
        pairs = self.place(noise * scale, components.to(noise.device)[:, None].expand(-1, n_pairs))
        return pairs.reshape(len(components), self.ncode)

    def sample(self, n, generator):
        components = torch.randint(
            self.n_components, (n,), generator=generator, device=generator.device
        )
        return self.sample_components(components, generator)

    def sample_for_labels(self, labels, generator):
        labels = labels.to(generator.device)
        random = torch.randint(
            self.n_components, labels.shape, generator=generator, device=generator.device
        )
        return self.sample_components(torch.where(labels == UNLABELED, random, labels), generator)

    def log_prob(self, codes):
        pairs = codes.reshape(len(codes), -1, 1, 2)  # (N, pairs, 1, 2) against K components
        angles = self.angles.to(codes.device)
        radial = pairs[..., 0] * angles.cos() + pairs[..., 1] * angles.sin() - self.radius
        tangential = -pairs[..., 0] * angles.sin() + pairs[..., 1] * angles.cos()
        per_pair = (
            -0.5 * (radial / self.radial_std).square()
            - 0.5 * (tangential / self.tangential_std).square()
            - math.log(2 * math.pi * self.radial_std * self.tangential_std)
        )
        return torch.logsumexp(per_pair.sum(1), dim=1) - math.log(self.n_components)

    def nearest_component(self, codes: torch.Tensor) -> torch.Tensor:
        """The component each 2-D code most likely came from (by angle, as the mixture is)."""
        angle = torch.atan2(codes[:, 1], codes[:, 0]) % (2 * math.pi)
        step = 2 * math.pi / self.n_components
        return torch.round(angle / step).long() % self.n_components

    def component_grid(
        self, component: int, steps: int = 20, radial: float = 1.0, tangential: float = 0.2
    ) -> torch.Tensor:
        """A steps×steps grid in one component's own axes, as in the reference's manifolds.

        Rows run along the radius, columns across it; offsets span ±radial and ±tangential.
        """
        r = torch.linspace(radial, -radial, steps)
        t = torch.linspace(-tangential, tangential, steps)
        local = torch.stack(torch.meshgrid(r, t, indexing="ij"), dim=-1).reshape(-1, 2)
        return self.place(local, torch.full((len(local),), component))

    def manifold_grids(self):
        """One grid per component, in its own axes, as the reference drew them."""
        return {f"manifold_{k}": self.component_grid(k) for k in range(self.n_components)}


class SwissRoll(Prior):
    """A 2-D swiss roll; with labels, digit k owns the k-th tenth of the roll (paper Fig 4c)."""

    name = "swiss_roll"
    labels_pick_components = True

    def __init__(self, ncode: int = 2, turns: float = 1.5, scale: float = 0.3, noise: float = 0.05):
        super().__init__(ncode)
        if ncode != 2:
            raise ValueError(f"the swiss-roll prior is 2-D, got ncode={ncode}")
        self.turns = turns
        self.scale = scale
        self.noise = noise

    def curve(self, position: torch.Tensor) -> torch.Tensor:
        """The roll's centre line at positions in [0, 1): 0 is its inner end, 1 its outer."""
        angle = 2 * math.pi * self.turns * (0.25 + position)
        radius = self.scale * angle
        return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1) / 2

    def roll(self, position: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Points at positions in [0, 1) along the roll, with a little isotropic noise."""
        points = self.curve(position)
        return points + self.noise * torch.randn(
            points.shape, generator=generator, device=points.device
        )

    def nearest_component(self, codes: torch.Tensor, resolution: int = 2000) -> torch.Tensor:
        """The digit whose tenth of the roll lies nearest to each 2-D code: the nearest of
        ``resolution`` points along the centre line names its tenth. A code between two turns
        goes to the nearer turn, as a prior sample with noise would."""
        position = (torch.arange(resolution, device=codes.device) + 0.5) / resolution
        nearest = torch.cdist(codes.float(), self.curve(position)).argmin(1)
        return (position[nearest] * N_CLASSES).long()

    def sample(self, n, generator):
        return self.roll(torch.rand(n, generator=generator, device=generator.device), generator)

    def sample_for_labels(self, labels, generator):
        labels = labels.to(generator.device)
        offset = torch.rand(labels.shape, generator=generator, device=generator.device)
        whole = torch.rand(labels.shape, generator=generator, device=generator.device)
        position = torch.where(labels == UNLABELED, whole, (labels + offset) / N_CLASSES)
        return self.roll(position, generator)


class CategoricalPrior:
    """Uniform one-hot vectors, imposed on the semi-supervised model's class head."""

    def __init__(self, n_classes: int = N_CLASSES):
        self.n_classes = n_classes

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        classes = torch.randint(self.n_classes, (n,), generator=generator, device=generator.device)
        return torch.nn.functional.one_hot(classes, self.n_classes).float()


PRIORS: dict[str, type[Prior]] = {
    "gaussian": GaussianPrior,
    "gmm": PinwheelMixture,
    "swiss_roll": SwissRoll,
}
PRIOR_NAMES = tuple(PRIORS)


def make_prior(name: str, ncode: int, **shape: float) -> Prior:
    """The prior called ``name`` on the command line (``--dist_type``); ``shape`` passes its
    own parameters, e.g. ``radius`` for the mixture."""
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIOR_NAMES)}")
    return PRIORS[name](ncode, **shape)


def linear_grid(steps: int = 20, limit: float = 3.0) -> torch.Tensor:
    """Evenly spaced codes over [-limit, limit]², row-major, top row = largest z2."""
    z1 = torch.linspace(-limit, limit, steps)
    z2 = torch.linspace(limit, -limit, steps)
    return torch.stack(torch.meshgrid(z2, z1, indexing="ij")[::-1], dim=-1).reshape(-1, 2)


def percentile_grid(steps: int = 20) -> torch.Tensor:
    """Codes at evenly spaced Gaussian percentiles, as in the paper's Fig 2e.

    Equal-probability cells make every grid point equally likely under N(0, I), so the grid
    shows what the prior actually samples rather than its empty tails.
    """
    quantiles = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps
    values = torch.distributions.Normal(0.0, 1.0).icdf(quantiles).float()
    z1, z2 = values, values.flip(0)
    return torch.stack(torch.meshgrid(z2, z1, indexing="ij")[::-1], dim=-1).reshape(-1, 2)
