"""Adversarial Autoencoders (Makhzani et al. 2016) on MNIST: the package behind the AAE book.

The core, what a student reads to learn the algorithm, is flat: ``networks`` (the MLPs),
``priors`` (each prior an object with its capabilities), ``models`` (one ``nn.Module`` built from
a ``ModelConfig``), ``phases`` (the losses), ``train`` (the ``Trainer``), ``recipes`` (every named
setup), ``evaluate`` (metrics), ``checkpoints``, ``data`` (MNIST, verified), ``precision``,
``pretrained`` (the book's weights), with ``errors`` and ``files`` beneath them. Around it:
``book/`` holds what the book draws with (plots, widgets, diagrams, the Parzen score, the
notebooks' helpers); ``runners/`` the experiment runners (export, train every book model, label
draws, the supervised-only control); ``cli/`` the ``aae`` command line. The weights live in the
clone's ``weights/`` folder and experiment results in ``results/``, never in the package.
"""

__version__ = "0.1.0"
