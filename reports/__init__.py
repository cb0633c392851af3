"""What procurement reads: charts, HTML/PDF/Markdown rendering, and the cost model.

Reports read only the results store; they never run workloads. (Built in the compare and
report issue; nothing here yet.)"""
