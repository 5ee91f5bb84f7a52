// Records a file in an in-process ledger and store through the installed library,
// then resolves "latest": prints "<version> <sha256>".
#include <sacker/backends.h>
#include <sacker/client.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  sacker::Client client(sacker::open_ledger("mem://consumer"), sacker::open_store_chain({"mem://consumer"}));
  sacker::AddRequest request;
  request.package = "consumer";
  request.source = argv[1];
  auto added = client.add(request);
  auto latest = client.resolve("consumer", sacker::parse_spec("latest"));
  if (latest.version != added.record.version) return 1;
  std::cout << latest.version << " " << latest.sha256 << "\n";
  return 0;
}
