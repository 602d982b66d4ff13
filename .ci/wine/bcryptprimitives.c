/* A stand-in for Windows' bcryptprimitives.dll, for Wine 8, which lacks it.
 *
 * Rust's std (since 1.78) gets its random numbers (HashMap keys) from ProcessPrng in
 * bcryptprimitives.dll; on a real Windows 10 or 11 that DLL is always there. Wine 8 has no
 * such DLL, so every Rust program fails to start. This one forwards ProcessPrng to
 * RtlGenRandom (advapi32's SystemFunction036), which Wine has. CI builds it with mingw and
 * copies it into the Wine prefix (.ci/wine/setup.sh); it is never part of our programs.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length); /* RtlGenRandom */

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
