// Umbrella header: everything bitlin offers. Including individual headers is fine too; each one
// includes what it needs.
#pragma once

#include "bitlin/core/error.hpp"
#include "bitlin/core/rounding.hpp"
#include "bitlin/core/types.hpp"
#include "bitlin/core/version.hpp"
#include "bitlin/core/weight_kind.hpp"
#include "bitlin/kernels/reference.hpp"
#include "bitlin/layers/bit_linear.hpp"
#include "bitlin/layers/energy.hpp"
#include "bitlin/pack/formats.hpp"
#include "bitlin/quant/activation.hpp"
#include "bitlin/quant/affine.hpp"
#include "bitlin/quant/binary.hpp"
#include "bitlin/quant/norm.hpp"
#include "bitlin/quant/scales.hpp"
#include "bitlin/quant/ternary.hpp"
