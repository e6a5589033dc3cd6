"""Running: the regeneration pipeline, warm kernels and notebook execution."""
