"""The guided experiments (the window's Experiments menu): sweeps that reproduce what the theory predicts.

    for experiment in EXPERIMENTS:                   # what the menu lists
        experiment.title, experiment.explanation     # what the theory says and what to look at (HTML)
        for label, model, train in experiment.plan():   # each sweep it trains, in order (train.epochs: its stage)
            ...                                      # betas, free_bits, schedules, objectives, seeds: its axes
    trainer.experiments.conclusions.conclusion(experiment, rows_by_stage)   # what the runs measured

Every experiment trains on the built-in sprites at 28x28 (no download, seconds per epoch on a laptop CPU) with
the 400-unit MLP, so each finishes in a few minutes on two cores; docs/window.md lists the times measured. The
settings are the engine's own configs (DatasetSpec, ModelConfig, TrainConfig); the window shows them in its
Controls and trains them as sweeps (explorer.window.run_comparison), and nothing here knows of a window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from trainer.config import DatasetSpec, ModelConfig, TrainConfig

DATA = DatasetSpec(name="sprites", n=10_000, image_size=28)
"""10,000 sprites of 28x28: 9,000 to train on, 1,000 held out."""
MODEL = ModelConfig(arch="mlp", input_shape=(1, 28, 28), hidden=(400,), latent_dim=10)
"""The 784-400-10 MLP."""
TRAIN = TrainConfig(epochs=10, batch_size=128, lr=1e-3, seed=0, device="auto")
"""Adam at 1e-3, batches of 128, β = 1."""


@dataclass(frozen=True)
class Experiment:
    key: str
    title: str
    explanation: str
    """What the theory says and what to look at, in the seeds' words (HTML)."""
    data: DatasetSpec = DATA
    model: ModelConfig = MODEL
    train: TrainConfig = TRAIN
    """What every run shares; the axes below vary it, the stages set its epochs."""
    betas: tuple[float, ...] = (1.0,)
    free_bits: tuple[float, ...] = ()
    schedules: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    """TrainConfig.objective values swept (elbo, tcvae); empty: the settings' own."""
    seeds: tuple[int, ...] = ()
    """Seeds swept; empty: the settings' own."""
    stages: tuple[int, ...] = (10,)
    """Epoch totals: the sweep is trained to each in turn (resuming), and measured after each."""
    iwae_samples: int = 0
    disentanglement_points: int = 0
    """DCI, SAP and FactorVAE of each run on this many points (0: none; the protocol's 15,000 take minutes)."""
    panel: str = "Rate–distortion"
    """The window's panel that makes the point, raised at the end."""
    select: str = "last"
    """Which run to explore at the end: "last" (the largest value swept) or "first"."""
    x_label: str = "β"
    y_label: str = "rate R (nats)"
    tags: tuple[str, ...] = field(default_factory=tuple)
    variants: tuple[tuple[str, dict], ...] = ()
    """(label, ModelConfig changes) of each model compared, each trained through every stage as a sweep of its
    own, in a subfolder of that label; empty: the model alone."""
    gap_examples: int = 0
    """The amortization and approximation gaps of each finished run on this many held-out examples (0: none)."""
    replay: bool = False
    """End by playing the explored run's timeline: its training replayed moment by moment in every view."""

    @property
    def runs(self) -> int:
        """How many runs it trains: every combination of the axes swept, for each variant (a stage trains the
        same runs on)."""
        return (len(self.betas) * max(1, len(self.free_bits)) * max(1, len(self.schedules))
                * max(1, len(self.objectives)) * max(1, len(self.seeds)) * max(1, len(self.variants)))

    def x_values(self) -> list[str]:
        return [f"{b:g}" for b in self.betas]

    def plan(self) -> list[tuple[str, ModelConfig, TrainConfig]]:
        """(subfolder, model, training with its epoch total) of each sweep, in training order: every variant
        through every stage; rows_by_stage lists their summary rows in this order."""
        variants = self.variants or (("", {}),)
        return [(label, replace(self.model, **changes), replace(self.train, epochs=epochs))
                for label, changes in variants for epochs in self.stages]


EXPERIMENTS = (
    Experiment(
        "collapse", "Posterior collapse at high β",
        "<p>The loss is <b>D + βR</b> with rate R = KL(q(z|x) ‖ p(z)) = ½Σ(μ² + σ² − 1 − log σ²). "
        "Each nat of rate costs β nats of distortion, so as β grows the encoder sends less about x. "
        "R = 0 only when q(z|x) = N(0, I) for every x: the <b>posterior has collapsed</b> onto the prior, "
        "z carries nothing, and the decoder must ignore it (every image decodes to the same mean).</p>"
        "<p>Five runs, β = 0.1 … 30. Watch the end points slide up the rate–distortion plane towards R = 0, "
        "and the KL strip of the largest β empty out; at the end its training replays on the timeline, the "
        "dimensions switching off one by one.</p>",
        betas=(0.1, 1.0, 3.0, 10.0, 30.0), panel="KL per dimension", y_label="rate R (nats)", replay=True),
    Experiment(
        "free-bits", "Free bits keep dimensions alive",
        "<p>With free bits λ (Kingma et al. 2016) each dimension's batch-averaged KL is charged "
        "max(λ, KL<sub>j</sub>): below λ nats a dimension costs nothing more, so the optimiser gains nothing "
        "by collapsing it. At a β strong enough to collapse the posterior, λ > 0 keeps the rate up, about λ "
        "nats in every dimension.</p>"
        "<p>Three runs at β = 30: λ = 0, 0.25 and 0.5 nats per dimension. Compare the rate and the KL strips.</p>",
        train=replace(TRAIN, beta=30.0), betas=(30.0,), free_bits=(0.0, 0.25, 0.5), panel="KL per dimension",
        x_label="free bits λ (nats)", y_label="rate R (nats)"),
    Experiment(
        "warmup", "KL warm-up versus none",
        "<p>KL warm-up (Bowman et al. 2016) multiplies β by a factor that ramps from 0 to 1 over the first "
        "steps: early on the decoder learns to use z before the rate is charged at all, which counters an "
        "early collapse.</p><p>Two runs at β = 4: a constant β, and β warmed up over 1,000 steps. Compare their "
        "rate curves on the Curves panel, and where they end on the plane; at the end the warmed-up run's training "
        "replays on the timeline.</p>",
        train=replace(TRAIN, beta=4.0), betas=(4.0,), schedules=("constant", "warmup:1000"), panel="Rate–distortion",
        x_label="schedule", y_label="rate R (nats)", replay=True),
    Experiment(
        "gap", "The ELBO gap shrinks as the encoder improves",
        "<p>log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)): the ELBO falls short of the log-likelihood by how far the "
        "encoder's q(z|x) is from the true posterior. IWAE with K samples estimates log p(x) much more "
        "tightly, so IWAE − ELBO estimates that gap.</p><p>One run at β = 1, measured after 1, 3 and 10 "
        "epochs with K = 50: as the encoder learns, the gap closes.</p>",
        train=replace(TRAIN, binarize="dynamic"), betas=(1.0,), stages=(1, 3, 10), iwae_samples=50, panel="ELBO gap",
        x_label="epochs", y_label="IWAE − ELBO (nats)"),
    Experiment(
        "mig", "β-VAE: reconstruction traded for disentanglement",
        "<p>Higgins et al. (2017): a β above 1 presses q(z|x) towards the factorised prior N(0, I), which "
        "favours codes whose dimensions follow separate factors of variation — bought with distortion. The "
        "sprites have known factors (shape, scale, orientation, x, y), so the Mutual Information Gap (Chen et "
        "al. 2018) measures it: for each factor, the gap between the two latent dimensions that know most "
        "about it, in nats, over the factor's entropy.</p><p>Four runs, β = 1, 4, 8, 16, with a 6-dimensional "
        "latent space for the 5 factors, 20 epochs: MIG (blue) against β, beside DCI disentanglement "
        "(orange), SAP (purple) and the FactorVAE score (brown), each computed on 3,000 encoded sprites (fewer than "
        "disentanglement_lib's 15,000, to stay within a few minutes), and D on the plane.</p>",
        model=replace(MODEL, latent_dim=6), betas=(1.0, 4.0, 8.0, 16.0), stages=(20,), panel="Rate–distortion",
        y_label="score", disentanglement_points=3000),
    Experiment(
        "bottleneck", "The information bottleneck: what the rate is made of",
        "<p>The KL term limits the information z carries about x: I(X; Z) ≤ KL(q(z|x) ‖ p(z)). The rate of "
        "the held-out posteriors splits exactly into that information and how far their average q(z) is from "
        "the prior: <b>R = I(X; Z) + KL(q(z) ‖ p(z))</b> (Hoffman &amp; Johnson 2016). Raising β charges "
        "both.</p><p>Six runs, β = 0.1 … 30: I(X; Z) (blue) and KL(q(z) ‖ p(z)) (orange) against β, each "
        "measured on the N held-out sprites (1,000 here), so I cannot show more than log N = 6.9 nats. The "
        "Information panel shows the explored run's split over its training.</p>",
        betas=(0.1, 0.3, 1.0, 3.0, 10.0, 30.0), panel="Information", y_label="nats"),
    Experiment(
        "tcvae", "β-TCVAE against β-VAE",
        "<p>The rate splits into index-code mutual information, total correlation and dimension-wise KL "
        "(Chen et al. 2018). A β-VAE's β charges all three, so a β that makes codes factorised also throttles "
        "the information z carries; <b>β-TCVAE</b> charges β only on the <b>total correlation</b>, the "
        "dependence between latent dimensions, and keeps weight 1 on the other two. Chen et al. report a higher "
        "MIG for β-TCVAE on dSprites.</p><p>Six runs at β = 6, a 6-dimensional latent space and 20 epochs: "
        "β-VAE and β-TCVAE, three seeds each. MIG by run, and their distortion, below.</p>",
        model=replace(MODEL, latent_dim=6), betas=(6.0,), objectives=("elbo", "tcvae"), seeds=(0, 1, 2), stages=(20,),
        panel="Rate–distortion", x_label="run", y_label="MIG", select="last"),
    Experiment(
        "layers", "What each layer of a hierarchy encodes",
        "<p>A hierarchical VAE (Ladder VAE, Sønderby et al. 2016) has p(z<sub>2</sub>) = N(0, I) on top, "
        "p(z<sub>1</sub> | z<sub>2</sub>) below it, and the rate Σ<sub>l</sub> KL(q(z<sub>l</sub> | ·) ‖ "
        "p(z<sub>l</sub> | z<sub>l+1</sub>)). Early in training the bottom layer is the cheaper place for "
        "information, and without <b>warm-up</b> the top layer tends to stay thin or collapse.</p>"
        "<p>Two runs of a 2-layer hierarchy (5 + 5 dimensions) at β = 1, 10 epochs (710 steps): a constant β, "
        "and β warmed up over the first 500. The rate of the top layer (blue) and of the bottom layer (orange) "
        "for each; the Traversals "
        "panel's Layer choice then shows what each layer of the explored (warmed-up) run encodes, the KL strip "
        "each layer's units.</p>",
        model=replace(MODEL, layers=2), betas=(1.0,), schedules=("constant", "warmup:500"), panel="Traversals",
        x_label="schedule", y_label="rate of the top layer (nats)"),
    Experiment(
        "inference", "Amortized or classical inference",
        "<p>Classical variational inference fits q(z) to each x on its own; a VAE trains one encoder to "
        "<b>amortize</b> that work, guessing q(z|x) in a single forward pass (seed 001 §9). The ELBO's gap to "
        "log p(x), KL(q(z|x) ‖ p(z|x)), then has two parts (Cremer, Li &amp; Duvenaud 2018): the "
        "<b>approximation gap</b> log p(x) − ELBO(q*), where q* is the best diagonal Gaussian for this x, found "
        "here by classical VI from the encoder's guess; and the <b>amortization gap</b> ELBO(q*) − ELBO(q_φ), "
        "what the encoder loses by guessing. Cremer et al. found the amortization gap often the larger on "
        "MNIST, and closing as the encoder grows.</p>"
        "<p>Two models with the same 400-unit decoder, one with a small encoder (32 units), one with a large "
        "one (1,024 units), each measured after 1, 3 and 10 epochs on 100 held-out sprites: the amortization gap "
        "of the small encoder (blue) and of the large (orange), and their approximation gaps (purple, brown), "
        "with the time each way of inferring q takes per example. The ELBO gap panel splits the gap again for "
        "the explored run, or for a selection, and optimizes one point's q.</p>",
        train=replace(TRAIN, binarize="dynamic"), betas=(1.0,), stages=(1, 3, 10), gap_examples=100,
        variants=(("small-encoder", {"encoder_hidden": (32,)}), ("large-encoder", {"encoder_hidden": (1024,)})),
        panel="ELBO gap", x_label="epochs", y_label="gap (nats per example)"),
    Experiment(
        "holes", "Closing the holes: a learned prior",
        "<p>The rate splits into the information z carries and how far the average posterior q(z) = "
        "(1/N) Σ<sub>n</sub> q(z|x<sub>n</sub>) is from the prior: <b>R = I(X; Z) + KL(q(z) ‖ p(z))</b> "
        "(Hoffman &amp; Johnson 2016). With p(z) = N(0, I) the second part is what the encoder pays for q(z) not "
        "filling the prior: where p(z) has mass and q(z) does not are the <b>holes</b>, codes the decoder never saw. "
        "The <b>VampPrior</b> (Tomczak &amp; Welling 2018) learns p(z) = (1/K) Σ<sub>k</sub> q(z | u<sub>k</sub>), "
        "the encoder's posterior of K learned pseudo-inputs, so p(z) can take q(z)'s shape: the marginal KL should "
        "shrink and more of the rate be information.</p><p>The same model trained twice for 10 epochs at β = 3 "
        "(where I(X; Z) stays below its ceiling log N, so the split can show where the rate goes), with N(0, I) and "
        "with a VampPrior of 100 pseudo-inputs: KL(q(z) ‖ p(z)) (blue) and I(X; Z) (orange) of each, on 1,000 "
        "held-out sprites. The latent scatter's holes overlay and the Prior vs q(z) panel then show the explored "
        "(VampPrior) run; the Samples panel its pseudo-inputs.</p>",
        betas=(3.0,), stages=(10,),
        variants=(("standard-prior", {"prior": "standard"}), ("vampprior", {"prior": "vamp", "pseudo_inputs": 100})),
        panel="Prior vs q(z)", x_label="prior", y_label="KL(q(z) ‖ p(z)) (nats)"),
)
