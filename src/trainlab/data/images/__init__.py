"""Image-folder data sets: split files, the DataModule, tensor transforms, embedded digits."""
