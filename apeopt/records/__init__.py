"""Typed records of what runs produce, one module each: per-split scores (``scores``), an optimize
run's ``summary.json`` (``summary``), a comparison's rows and summary (``compare``), a batch job's
result (``job``). Files are written and read only through these classes (``to_dict``/``from_dict``,
``save``/``load_summary``), with a schema version (``base``)."""
