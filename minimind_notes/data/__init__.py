"""Training data: dataset catalog, JSONL reading, tokenizer, pretokenizing and the embedded sample corpus."""
