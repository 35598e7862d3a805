"""What each of the Controls says when hovered: the theory behind the setting, in the words of ../shared/theory."""

TIPS = {
    "dataset": "Sprites are generated from their own seed, 0 unless a checkpoint says otherwise (shape, scale, "
               "rotation, x, y: known generative factors).\n"
               "MNIST and Fashion-MNIST are read from IDX files in the folder below.\n"
               "File > Open Dataset (Ctrl+Shift+O) adds an .npz, an HDF5 dataset or a folder of images.",
    "folder": "Folder holding train-images-idx3-ubyte(.gz) and/or t10k-images-idx3-ubyte(.gz) with their labels.\n"
              "Empty: the user cache (~/.cache/vae-explorer).",
    "sprites": "How many sprites to generate (10% are held out) and their side in pixels.\n"
               "28 px trains several times faster on a CPU than 64 px.",
    "arch": "Encoder and decoder networks: mlp (fully connected) or conv (strided convolutions).\n"
            "A decoder strong enough to model x without z invites posterior collapse (rate → 0).",
    "latent": "Dimensions of z. The prior p(z) is N(0, I); dimensions the model does not need collapse to it.\n"
              "The rate is the sum of the per-dimension KLs; a dimension with KL ≈ 0 is inactive.",
    "layers": "Stochastic layers. 1: one z. 2 or more: a hierarchical VAE (Ladder VAE, Sønderby et al. 2016),\n"
              "p(z_L) = N(0, I), p(z_l | z_{l+1}) Gaussian, the latent dimensions split among the layers,\n"
              "bottom first; the rate is Σ_l KL(q(z_l | ·) ‖ p(z_l | z_{l+1})). Without warm-up the upper layers\n"
              "tend to collapse: the collapse warning names the layer.",
    "layer_warmup": "A hierarchy: steps over which each layer's KL weight ramps from 0 to 1, bottom first,\n"
                    "comma-separated (e.g. 0, 2000). Empty: no ramp of its own (the β schedule still applies).",
    "likelihood": "p(x|z), under which the distortion −E log p(x|z) is measured.\n"
                  "bernoulli: a probability of binary pixels; on grey levels it is a cross-entropy, not a\n"
                  "likelihood, so the ELBO bounds no log p(x) (binarize, or pick continuous-bernoulli).\n"
                  "continuous-bernoulli: a density on [0, 1] for grey levels (Loaiza-Ganem & Cunningham 2019).\n"
                  "gaussian: a density with a learned σ (soft-clipped at log σ = −6).",
    "binarize": "Train on binary images drawn as Bernoulli(x) from the grey levels, which makes a Bernoulli\n"
                "likelihood a real one: dynamic draws a fresh sample of every batch (Burda et al. 2016, the\n"
                "setting of most published MNIST log-likelihoods); static draws one sample from the seed.\n"
                "The held-out set is then scored as one fixed binarized sample.",
    "norm": "Batch normalisation after every hidden layer, before its ReLU (encoder, decoder, a hierarchy's "
            "ladder):\nwhile training each unit is standardised over the batch, at evaluation by running averages "
            "of those statistics.\nSønderby et al. (2016) found it crucial for hierarchical VAEs; on MNIST it also "
            "lifts a flat VAE's log p(x).\nNot with the VampPrior, whose pseudo-inputs go through the encoder.",
    "conditional": "Conditional VAE: encoder and decoder also see the label y, so z need not encode it.\n"
                   "Needs a labelled dataset (MNIST, Fashion-MNIST).",
    "batch": "Examples per optimizer step: each step estimates the ELBO (distortion + rate) on one mini-batch.\n"
             "Larger batches give less noisy gradients but fewer steps per epoch.",
    "lr": "Adam learning rate. Applies live at the next step. If the loss becomes NaN/Inf, training pauses and\n"
          "the last good weights are restored: lower it before resuming.",
    "seed": "Seeds the weights, the shuffling and the reparameterization noise ε: a seed reproduces a run. "
            "The data (the sprites, the train/held-out split) has a seed of its own, so runs of other seeds "
            "train on the same data.",
    "device": "Where training runs: auto picks a CUDA GPU when there is one, else the CPU.",
    "epochs": "Training stops by itself after this many passes over the data in all. Continue on a run that has\n"
              "done them all trains this many more (8 of 8 done: to 16); a higher value first sets the total.\n"
              "After each epoch the held-out distortion, rate and ELBO are measured (the dots on the curves).",
    "beta": "β weights the rate KL(q(z|x)‖p(z)) against the distortion −E log p(x|z) in the loss D + β·R.\n"
            "Large β compresses the code and can collapse the posterior onto the prior; small β approaches\n"
            "a plain autoencoder. β = 1 is the ELBO. Applies live at the next step.",
    "schedule": "How β reaches its target: constant; warm-up (KL annealing, Bowman et al. 2016) ramps it from 0\n"
                "over the given steps; cyclical (Fu et al. 2019) repeats that ramp every period.\n"
                "Both fight posterior collapse early in training.",
    "schedule_steps": "Warm-up: steps to reach the target β. Cyclical: the period in steps.",
    "free_bits": "Free bits λ (Kingma et al. 2016), nats per latent dimension: a dimension's KL below λ is not\n"
                 "penalised, so the optimiser gains nothing by collapsing it. 0 = off. Applies live.",
    "objective": "What β weighs. ELBO (β-VAE): the whole rate, D + β·KL(q(z|x) ‖ p(z)).\n"
                 "β-TCVAE (Chen et al. 2018): the KL term split on the batch into index-code mutual information,\n"
                 "total correlation and dimension-wise KL; β weighs only the total correlation, the dependence\n"
                 "between latent dimensions, so a high β asks for factorized codes without starving I(X; Z).\n"
                 "IWAE (Burda et al. 2016): the importance-weighted bound log (1/K) Σ_k p(x, z_k) / q(z_k|x), tighter\n"
                 "than the ELBO and closer to log p(x) as K grows. It is not distortion + β·rate, so it has no β:\n"
                 "the curves show the bound as the loss and the ELBO of the same encoder beside it.",
    "prior": "p(z), the prior the rate is measured against. N(0, I): the seeds' prior, whose KL has the closed\n"
             "form ½Σ(μ² + σ² − 1 − log σ²). VampPrior (Tomczak & Welling 2018): p(z) = (1/K) Σ_k q(z | u_k), the\n"
             "encoder's posterior averaged over K learned pseudo-inputs u_k (images; the Samples panel shows them).\n"
             "It can take the shape of the aggregate posterior q(z), closing the holes N(0, I) leaves; the rate is\n"
             "then a Monte Carlo KL, and the KL strip shows each dimension's KL to the prior's marginal.",
    "iwae_k": "IWAE: samples of q(z|x) per example in each step's bound. K = 1 is the VAE; each sample costs a\n"
              "decoder pass. Burda et al. train with K = 5 and 50: the encoder grows broader, its ELBO may fall\n"
              "while log p(x) rises.",
}
