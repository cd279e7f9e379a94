/* src/agentcore/kick.c: the control plane's workers woken from outside (agentcore.h). */
#include "agentcore/agentcore.h"
#include "agentcore/internal.h"

void mg_agentcore_kick(void *service_state)
{
    mg_ac_kick(service_state); /* NULL is fine */
}
