"""TruStacks: a Git-native GitOps bot. Agents propose. Policy decides. Humans approve."""

__version__ = "0.1.0"
