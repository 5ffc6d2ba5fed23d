"""Writes of the licensing domain. Each service owns its transaction.

Views, admin actions, commands and tasks call these and nothing else to change state.
"""
