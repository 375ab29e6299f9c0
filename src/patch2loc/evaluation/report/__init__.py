"""The report: one HTML file (`html`) of the run's sections (`sections`), the tables' captions
(`captions`), the demo's table and checks (`demo_summary`) and its sphere probe (`sensitivity`)."""
