"""The operator page: logins, live calls, listen-in, actions, history (docs/operator.md)."""
