"""The proxy benchmarks' static files (run.sh and ab.sh): a 1 KB index.html and a 200 KB
hashed JS asset under DIR/assets/. Usage: python3 bench/proxy/static_files.py DIR"""
import os
import sys

root = sys.argv[1]
os.makedirs(f"{root}/assets", exist_ok=True)
head = "<!doctype html><html><head><meta charset=utf-8><title>app</title></head><body><div id=root></div>"
html = head + "<!--" + "x" * (1024 - len(head) - len("--></body></html>") - 4) + "--></body></html>"
open(f"{root}/index.html", "w").write(html[:1024].ljust(1024))
line = "export const f = (a, b) => a + b; console.log('runway bench');\n"
open(f"{root}/assets/app-3f9a1c.js", "w").write((line * (204800 // len(line) + 1))[:204800])
