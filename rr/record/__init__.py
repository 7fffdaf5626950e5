"""Recording a live run: the inputs the guest observes, written to a trace as they happen."""
