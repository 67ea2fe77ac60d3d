"""The curriculum: curriculum.yaml's schema and loader, experiments, paths."""
