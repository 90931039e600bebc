# Design documents shipped with the distribution.
