// bg2vec version: the library version and the dependencies it was built with.
#include "cli.hpp"

#include <Eigen/Core>
#include <cstdio>

namespace bg2vec::cli {

static int version(const Args& args) {
  po::options_description options("options");
  po::variables_map vm;
  if (!parse("version", "Print the version of bg2vec and of the libraries it uses.", options, args, vm)) return 0;
  std::printf("bg2vec 0.1.0 (Eigen %d.%d.%d, %d OpenMP threads)\n", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION,
              EIGEN_MINOR_VERSION, Eigen::nbThreads());
  return 0;
}

static const Command registered_version{"version", "print versions of bg2vec and its libraries", version};

}  // namespace bg2vec::cli
