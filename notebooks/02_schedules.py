# %% [markdown]
# # Schedules (placeholder)
