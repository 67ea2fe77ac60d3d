"""What the experiments share: the experiment contract and its report, byte-level small models and
their trainer, ablation variants, the real trainer at lab scale, and the MoE and alignment helpers."""
