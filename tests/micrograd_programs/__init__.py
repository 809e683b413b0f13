"""Third-party-style programs (micrograd tests, notebooks, lecture, exercises) as functions of the Value class."""
