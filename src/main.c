#include <stdio.h>
int main(void) { puts("mcpgate"); return 0; }
