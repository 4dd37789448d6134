"""What a run hands back: the results workbook, the failed-rows file and the summary."""
