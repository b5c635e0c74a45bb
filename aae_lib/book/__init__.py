"""What the book draws with: figures (``plots``), the latent-space widgets (``widgets``),
architecture diagrams (``diagrams``), the Parzen-window score of Table 1 (``parzen``) and the
notebooks' set-up and load-or-train cells (``notebook``)."""
