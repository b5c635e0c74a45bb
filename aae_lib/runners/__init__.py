"""The experiment runners: train and export a book model (``export``), train them all
(``train_book``), the label draws of Table 2 (``label_draws``) and its supervised-only control
(``control``). Each is an ``aae`` subcommand."""
