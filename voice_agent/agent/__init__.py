"""A company's agent as a folder of data (config/agents/<name>/): loaded, checked, served.

yamlfile (files with line numbers) → models (the files' shape) → loader (a folder) → check
(rules across files) → table / actions (where facts come from) → templates (what is said) →
context / policy (the dialogue mechanics) → scaffold (`voice-agent agent new`).
"""
