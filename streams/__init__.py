"""The imperative shell: Faust app, topics, tables, agents, sinks, CLI."""
