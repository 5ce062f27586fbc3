// main.cpp — the doctest runner for every kizuki test suite (one file per area).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
