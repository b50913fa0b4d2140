/*
 * bcryptprimitives.dll for Wine 8.0: exports ProcessPrng, which the Go 1.22+
 * Windows runtime imports for its random numbers and which Wine only gained
 * in 9.x. Without it every Go .exe dies at start under Debian bookworm's Wine
 * ("bcryptprimitives.dll not found"). Test harness only: never shipped.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *       processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom; advapi32 exports it under this name. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Like the real one: fills the buffer, never fails (a failure here would
 * make the Go runtime abort, which is the right outcome for a broken RNG). */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG n = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        size -= n;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst; (void)reason; (void)reserved;
    return TRUE;
}
