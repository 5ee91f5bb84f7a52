// A backend module "of another build" for install.backend_modules: the right entry
// symbol, a foreign ABI stamp. The sacker command must refuse it before touching
// anything else in it (its tables are null).
struct ForeignModule {
  const char* abi;
  const char* family;
  const void* ledgers;
  const void* stores;
  const void* aws_probe;
  const void* aws_list_probe;
};

extern "C" __attribute__((visibility("default"))) const ForeignModule* sacker_module_v1() {
  static const ForeignModule module{"0.0.0+another-build", "git", nullptr, nullptr, nullptr, nullptr};
  return &module;
}
