"""The notebook layer: the %%haoee magic, the form, the shared call core, views, session."""
