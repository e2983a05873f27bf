// main() of the mpi test program (tests/distributed/mpi_test_*.cpp), run by ctest under mpirun:
// MPI is initialised before Catch2 runs, and every rank's verdict decides: each rank exits non-zero
// when any rank failed, so mpirun fails whichever rank saw the failure.
#define CATCH_CONFIG_RUNNER
#include <bitlin/distributed/mpi.hpp>

#include <vector>

#include "catch.hpp"
#include "mpi_world.hpp"

namespace {
const bitlin::distributed::communicator* world = nullptr;
}  // namespace

const bitlin::distributed::communicator& bitlin_test::mpi_world() {
  return *world;
}

int main(int argc, char* argv[]) {
  bitlin::distributed::mpi_environment env(&argc, &argv);
  const bitlin::distributed::mpi_communicator comm;
  world = &comm;
  Catch::Session session;
  if (int rc = session.applyCommandLine(argc, argv)) return rc;
  const int failed = session.run();
  int mine = failed != 0, any = 0;
  for (int f : bitlin::distributed::all_gather(comm, &mine, 1)) any |= f;
  return any;
}
