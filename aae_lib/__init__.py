"""Adversarial Autoencoders (Makhzani et al. 2016) on MNIST: the package behind the AAE book.

The core, what a student reads to learn the algorithm, is flat: ``networks`` (the MLPs),
``priors`` (each prior an object with its capabilities), ``models`` (one ``nn.Module`` built from
a ``ModelConfig``), ``phases`` (the losses), ``train`` (the ``Trainer``: the steps and the epoch
loop), ``config`` (``TrainConfig``), ``recipes`` (every named setup), ``evaluate`` (metrics),
``checkpoints``, ``data`` (MNIST, verified), ``precision``, ``pretrained`` (the book's weights);
beneath them ``bookkeeping`` (what the trainer calls around the algorithm: checkpoint records,
divergence checks, code snapshots), ``errors`` and ``files``. Around the core: ``book/`` holds
what the book draws with (plots, widgets, diagrams, the Parzen score, the notebooks' helpers);
``runners/`` the experiment runners (export, train every book model, label draws, the
supervised-only control); ``cli/`` the ``aae`` command. The weights live in the clone's
``weights/`` folder and experiment results in ``results/``, never in the package.
"""

__version__ = "0.2.0"
