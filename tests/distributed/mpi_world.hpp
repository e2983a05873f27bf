// The communicator of the mpi test program (tests/distributed/mpi_main.cpp sets it up before any
// test case runs).
#pragma once

#include <bitlin/distributed/mpi.hpp>

namespace bitlin_test {
const bitlin::distributed::communicator& mpi_world();
}  // namespace bitlin_test
