"""Demo programs shared by the `valuegrad demo` command and the scripts in demos/."""
