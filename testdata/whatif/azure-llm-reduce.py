#!/usr/bin/env python3
"""Reduces Azure's LLM inference trace 2023 (Azure/AzurePublicDataset, data/
AzureLLMInferenceTrace_{code,conv}.csv: TIMESTAMP,ContextTokens,GeneratedTokens, one row per
request) to requests and tokens per minute, the input of `fedsched simulate --serving-trace
azure:FILE` (docs/simulation.md, "Lending against real serving traces").

usage: azure-llm-reduce.py TRACE.csv NAME COMMIT > azure-llm-NAME-2023.csv

Minute 0 is the minute of the first request; every minute up to the last request's has a row,
0 when no request arrived in it."""
import csv
import sys
from datetime import datetime

src, name, commit = sys.argv[1], sys.argv[2], sys.argv[3]
per = {}
for row in csv.DictReader(open(src, newline="")):
    t = datetime.strptime(row["TIMESTAMP"][:16], "%Y-%m-%d %H:%M")
    a = per.setdefault(t, [0, 0, 0])
    a[0] += 1
    a[1] += int(row["ContextTokens"])
    a[2] += int(row["GeneratedTokens"])
first, last = min(per), max(per)
n = int((last - first).total_seconds() // 60) + 1
print(f"# Azure LLM inference trace 2023, {name}: Azure/AzurePublicDataset (commit {commit}),")
print(f"# data/AzureLLMInferenceTrace_{name}.csv, CC-BY (the repository's LICENSE), Patel et al., Splitwise, ISCA 2024.")
print(f"# Reduced by testdata/whatif/azure-llm-reduce.py: requests and summed ContextTokens and")
print(f"# GeneratedTokens per minute of TIMESTAMP, minute 0 = {first:%Y-%m-%d %H:%M} (as recorded),")
print(f"# {n} minutes; a minute without requests is a row of zeros.")
print("minute,requests,context_tokens,generated_tokens")
for i in range(n):
    t = first.fromtimestamp(first.timestamp() + 60 * i)
    a = per.get(t, [0, 0, 0])
    print(f"{i},{a[0]},{a[1]},{a[2]}")
