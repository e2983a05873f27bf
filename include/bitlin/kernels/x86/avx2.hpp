// placeholder: falls back to a less specific kernel by tag inheritance until written.
#pragma once
#include "bitlin/kernels/scalar.hpp"
