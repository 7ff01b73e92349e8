using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kettle;

/// <summary>
/// Non-blocking <c>recv</c> and <c>send</c> on a socket the loop's selector drives (Linux only): straight system calls,
/// without the layers of <see cref="Socket.Receive(Span{byte}, SocketFlags, out SocketError)"/> (its state checks,
/// the framework's marshalling stub and error translation), which cost about as much per request as Kettle's own
/// stream code (docs/performance.md, "The echo client"). Errors come out as .NET would report them: the errno goes
/// through <see cref="SocketException()"/>, which maps it with .NET's own table.
/// </summary>
/// <remarks>Threading: the loop thread of the transport that owns the socket. The handle is referenced for the
/// length of each call, so a socket disposed elsewhere gives <see cref="ObjectDisposedException"/>, never a call on a
/// descriptor number reused meanwhile.</remarks>
internal static unsafe class RawSocket
{
    private const int EINTR = 4;
    private const int EAGAIN = 11; // EWOULDBLOCK is the same on Linux
    private const int MSG_NOSIGNAL = 0x4000; // a peer gone gives EPIPE, not SIGPIPE (as .NET's own send)

    /// <summary>Receives what is there: the count (0 at the end of the stream), or -1 when it would block.</summary>
    // Not inlined: the callers' await loops sit in try blocks, where the JIT would not inline the P/Invoke either
    // (it would go through a marshalling stub).
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Receive(SafeSocketHandle handle, Span<byte> buffer)
    {
        // No try/finally around the call: the JIT inlines a P/Invoke only outside exception-handling regions, and
        // nothing between the reference and its release can throw (the system call reports through errno).
        bool added = false;
        handle.DangerousAddRef(ref added);
        nint n;
        int errno = 0;
        fixed (byte* p = buffer)
        {
            do
            {
                n = recv(handle.DangerousGetHandle(), p, buffer.Length, 0);
            }
            while (n < 0 && (errno = Marshal.GetLastSystemError()) == EINTR);
        }
        handle.DangerousRelease();
        if (n >= 0)
        {
            return (int)n;
        }
        return errno == EAGAIN ? -1 : throw Error(errno);
    }

    /// <summary>Sends what the kernel takes now: the count, 0 when it would block.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static int Send(SafeSocketHandle handle, ReadOnlySpan<byte> data)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        nint n;
        int errno = 0;
        fixed (byte* p = data)
        {
            do
            {
                n = send(handle.DangerousGetHandle(), p, data.Length, MSG_NOSIGNAL);
            }
            while (n < 0 && (errno = Marshal.GetLastSystemError()) == EINTR);
        }
        handle.DangerousRelease();
        if (n >= 0)
        {
            return (int)n;
        }
        return errno == EAGAIN ? 0 : throw Error(errno);
    }

    private static SocketException Error(int errno)
    {
        // The parameterless constructor reads the last P/Invoke error and maps it as .NET's own socket calls do.
        Marshal.SetLastPInvokeError(errno);
        return new SocketException();
    }

    [DllImport("libc", EntryPoint = "recv")]
    private static extern nint recv(nint fd, byte* buffer, nint length, int flags);

    [DllImport("libc", EntryPoint = "send")]
    private static extern nint send(nint fd, byte* buffer, nint length, int flags);
}
