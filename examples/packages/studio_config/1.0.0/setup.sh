# Sourced by studio_config's commands() in sh, bash and zsh.
# It sets one shell variable, not exported, so child processes never see it.
STUDIO_CONFIG_SETUP_SOURCED=1
