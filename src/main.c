#include "base/alloc.h"
#include "cli/cli.h"

int main(int argc, char **argv)
{
    mg_json_use_counting_allocator();
    return mg_cli_main(argc, argv);
}
