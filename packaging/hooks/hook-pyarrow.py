"""Replaces the contrib pyarrow hook, which collects every submodule, header and library (~170 MB).

The engine uses pyarrow's core, compute, CSV and Parquet only; the extension modules imported
pull their own libarrow*.so through PyInstaller's dependency analysis.
"""

hiddenimports = ["pyarrow.lib", "pyarrow._compute", "pyarrow._csv", "pyarrow._parquet", "pyarrow._fs",
                 "pyarrow._json", "pyarrow.vendored.version", "pyarrow._feather", "pyarrow._acero",
                 "pyarrow._dataset", "pyarrow._dataset_parquet", "pyarrow._parquet_encryption"]
