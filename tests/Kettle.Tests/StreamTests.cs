using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Kettle.Tests;

/// <summary>Streams and servers over real loopback sockets, on the real clock: outcomes only, never durations.</summary>
public class StreamTests
{
    private static readonly RunOptions RealClock = new() { HandleCtrlC = false };

    private static void Run(Func<Coroutine> main) => HangGuard.Run(() => Aio.Run(main(), RealClock));

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);

    private static string S(byte[] b) => Encoding.ASCII.GetString(b);

    private static async Coroutine Until(Func<bool> condition)
    {
        while (!condition())
        {
            await Aio.Sleep(0.005);
        }
    }

    private static async Coroutine Echo(AioStreamReader reader, AioStreamWriter writer)
    {
        while (true)
        {
            var data = await reader.Read(4096);
            if (data.Length == 0)
            {
                return;
            }
            writer.Write(data);
            await writer.Drain();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnLinuxSocketsRunOnTheLoopsSelectorUnlessPortableIoIsAsked(bool portable)
    {
        HangGuard.Run(() => Aio.Run(Main(), new RunOptions { HandleCtrlC = false, PortableIo = portable }));

        async Coroutine Main()
        {
            var loop = Aio.GetRunningLoop();
            bool selector = OperatingSystem.IsLinux() && !portable;
            Assert.Equal(selector, loop.Selector.Enabled);
            var server = await Aio.StartServer(Echo, "127.0.0.1", 0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            await Until(() => server.ActiveHandlers == 1);
            // The listener and both ends of the connection are registered (edge-triggered, once each).
            Assert.Equal(selector ? 3 : 0, loop.Selector.Count);
            // More than the socket buffers take at once: the writers wait for writability, the drains for the low-water mark.
            var payload = new byte[16 << 20];
            new Random(7).NextBytes(payload);
            var reading = Aio.CreateTask(reader.ReadExactly(payload.Length));
            writer.Write(payload);
            await writer.Drain();
            Assert.Equal(payload, await reading);
            writer.Close();
            await writer.WaitClosed();
            server.Close();
            await server.WaitClosed();
            Assert.Equal(0, loop.Selector.Count);
        }
    }

    [Fact]
    public void EchoRoundTripRunsTheHandlerAsANamedTask()
    {
        Run(async () =>
        {
            string? handlerName = null;
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    handlerName = Aio.CurrentTask!.Name;
                    await Echo(r, w);
                },
                "127.0.0.1",
                0);
            Assert.NotEqual(0, server.Port);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            writer.Write(B("hello\n"));
            await writer.Drain();
            Assert.Equal("hello\n", S(await reader.ReadLine()));
            writer.Write(B("world\n"));
            Assert.Equal("world\n", S(await reader.ReadLine()));
            var local = (IPEndPoint)writer.LocalEndPoint!;
            Assert.Equal($"conn-127.0.0.1:{local.Port}", handlerName);
            Assert.Equal(server.Port, ((IPEndPoint)writer.RemoteEndPoint!).Port);
            writer.Close();
            await writer.WaitClosed();
            server.Close();
            await server.WaitClosed();
            Assert.Equal(0, server.ActiveHandlers);
        });
    }

    [Fact]
    public void ReadLineReadUntilAndReadExactlyIncludingEof()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    w.Write(B("line one\nA--B--tail12345partial"));
                    await w.Drain();
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            Assert.Equal("line one\n", S(await reader.ReadLine()));
            Assert.Equal("A--", S(await reader.ReadUntil(B("--"))));
            Assert.Equal("B--", S(await reader.ReadUntil(B("--"))));
            Assert.Equal("tail", S(await reader.ReadExactly(4)));
            Assert.Equal("12345", S(await reader.ReadExactly(5)));
            var incomplete = await Assert.ThrowsAsync<IncompleteReadException>(async () => await reader.ReadExactly(100));
            Assert.Equal("partial", S(incomplete.Partial));
            Assert.Equal(100, incomplete.Expected);
            Assert.True(reader.AtEof);
            Assert.Empty(await reader.ReadLine());
            Assert.Empty(await reader.Read(10));
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void ReadUntilAtEofGivesThePartialDataAndReadLineReturnsIt()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    w.Write(B("no separator here"));
                    await w.Drain();
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var e = await Assert.ThrowsAsync<IncompleteReadException>(async () => await reader.ReadUntil(B("\r\n")));
            Assert.Equal("no separator here", S(e.Partial));
            Assert.Null(e.Expected);
            Assert.True(reader.AtEof);
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void ALineLongerThanTheLimitFailsAndNothingIsLost()
    {
        Run(async () =>
        {
            string longLine = new string('x', 100) + "\n";
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    w.Write(B(longLine + "short\n" + new string('y', 50)));
                    await w.Drain();
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port, limit: 32);
            Assert.Equal(32, reader.Limit);
            var overrun = await Assert.ThrowsAsync<LimitOverrunException>(async () => await reader.ReadLine());
            Assert.Contains("limit", overrun.Message, StringComparison.Ordinal);
            Assert.True(overrun.Consumed > 0);
            // Still buffered: read it another way, then go on with lines.
            Assert.Equal(longLine, S(await reader.ReadExactly(longLine.Length)));
            Assert.Equal("short\n", S(await reader.ReadLine()));
            var again = await Assert.ThrowsAsync<LimitOverrunException>(async () => await reader.ReadUntil(B("\n")));
            Assert.Equal(new string('y', 50), S(await reader.Read()));
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void DrainWaitsForASlowReaderAndAllDataArrives()
    {
        Run(async () =>
        {
            const int Chunk = 64 * 1024;
            const int Chunks = 512; // 32 MiB: more than loopback's kernel buffers hold
            var go = new AioEvent();
            long received = 0;
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    await go.Wait();
                    while (true)
                    {
                        var data = await r.Read(Chunk);
                        if (data.Length == 0)
                        {
                            break;
                        }
                        received += data.Length;
                    }
                    w.Write(B("done\n"));
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            writer.SetWriteBufferLimits(Chunk);
            int written = 0;
            int maxBuffered = 0;
            var payload = new byte[Chunk];
            var sender = Aio.CreateTask(Send(), "sender");
            async Coroutine Send()
            {
                for (int i = 0; i < Chunks; i++)
                {
                    writer.Write(payload);
                    maxBuffered = Math.Max(maxBuffered, writer.BufferSize);
                    await writer.Drain();
                    written++;
                }
                writer.WriteEof();
            }
            // The reader does not read: the sender must end up blocked in Drain, with data buffered.
            await Until(() => writer.BufferSize > Chunk);
            await Aio.Sleep(0.1);
            Assert.False(sender.IsDone);
            Assert.True(written < Chunks);
            Assert.True(writer.BufferSize > Chunk);
            go.Set();
            await sender;
            Assert.Equal("done\n", S(await reader.ReadLine()));
            Assert.Equal((long)Chunk * Chunks, received);
            Assert.True(maxBuffered > Chunk);
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void HalfCloseLetsThePeerReadToTheEndAndStillAnswer()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    var all = await r.Read();
                    w.Write(B($"got {all.Length}: {S(all)}"));
                    await w.Drain();
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            writer.Write(B("abc"));
            writer.Write(B("def"));
            Assert.True(writer.CanWriteEof);
            writer.WriteEof();
            Assert.Throws<InvalidOperationException>(() => writer.Write(B("late")));
            Assert.Equal("got 6: abcdef", S(await reader.Read()));
            Assert.True(reader.AtEof);
            writer.Close();
            await writer.WaitClosed();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void ServerCloseStopsAcceptingAndWaitClosedWaitsForHandlers()
    {
        Run(async () =>
        {
            var release = new AioEvent();
            bool handlerFinished = false;
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    await release.Wait();
                    w.Write(B("bye\n"));
                    handlerFinished = true;
                },
                "127.0.0.1",
                0);
            int port = server.Port;
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", port);
            await Until(() => server.ActiveHandlers == 1);
            server.Close();
            Assert.False(server.IsServing);
            Assert.Empty(server.Sockets);
            var waiter = Aio.CreateTask(server.WaitClosed());
            await Aio.Sleep(0.05);
            Assert.False(waiter.IsDone);
            await Assert.ThrowsAsync<SocketException>(async () => await Aio.OpenConnection("127.0.0.1", port));
            release.Set();
            await waiter;
            Assert.True(handlerFinished);
            Assert.Equal(0, server.ActiveHandlers);
            // The handler's end closed its connection after sending what it wrote.
            Assert.Equal("bye\n", S(await reader.ReadLine()));
            Assert.True((await reader.Read()).Length == 0 && reader.AtEof);
            writer.Close();
        });
    }

    [Fact]
    public void CancellingWaitClosedCancelsTheHandlers()
    {
        Run(async () =>
        {
            int cancelledHandlers = 0;
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    try
                    {
                        await r.Read(10);
                    }
                    catch (CancelledException)
                    {
                        cancelledHandlers++;
                        throw;
                    }
                },
                "127.0.0.1",
                0);
            var a = await Aio.OpenConnection("127.0.0.1", server.Port);
            var b = await Aio.OpenConnection("127.0.0.1", server.Port);
            await Until(() => server.ActiveHandlers == 2);
            var serve = Aio.CreateTask(server.ServeForever(), "serve");
            await Aio.Sleep(0.02);
            serve.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await serve);
            Assert.Equal(2, cancelledHandlers);
            Assert.Equal(0, server.ActiveHandlers);
            Assert.False(server.IsServing);
            a.Writer.Close();
            b.Writer.Close();
        });
    }

    [Fact]
    public void CancellingATaskBlockedInReadEndsItAndLosesNoData()
    {
        Run(async () =>
        {
            var send = new AioEvent();
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    await send.Wait();
                    w.Write(B("after\n"));
                    await r.Read();
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var blocked = Aio.CreateTask(reader.ReadLine(), "blocked-reader");
            await Aio.Sleep(0.05);
            Assert.False(blocked.IsDone);
            blocked.Cancel("stop reading");
            var e = await Assert.ThrowsAsync<CancelledException>(async () => await blocked);
            Assert.True(blocked.IsCancelled);
            send.Set();
            Assert.Equal("after\n", S(await reader.ReadLine()));
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void TwoReadersAtOnceIsAnError()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(async (r, w) => await r.Read(), "127.0.0.1", 0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var first = Aio.CreateTask(reader.Read(1));
            await Aio.Sleep(0.02);
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await reader.Read(1));
            first.Cancel();
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void AHundredConcurrentConnections()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(Echo, "127.0.0.1", 0, backlog: 200);
            int ok = 0;
            async Coroutine Client(int id)
            {
                var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
                for (int i = 0; i < 10; i++)
                {
                    string line = $"client {id} message {i}\n";
                    writer.Write(B(line));
                    await writer.Drain();
                    Assert.Equal(line, S(await reader.ReadLine()));
                }
                writer.Close();
                await writer.WaitClosed();
                ok++;
            }
            await Aio.Gather(Enumerable.Range(0, 100).Select(i => Aio.CreateTask(Client(i))).ToArray());
            Assert.Equal(100, ok);
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void UnixDomainSocketEcho()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kettle-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        Run(async () =>
        {
            var server = await Aio.StartUnixServer(Echo, path);
            Assert.True(File.Exists(path));
            var (reader, writer) = await Aio.OpenUnixConnection(path);
            writer.Write(B("over unix\n"));
            Assert.Equal("over unix\n", S(await reader.ReadLine()));
            writer.Close();
            server.Close();
            await server.WaitClosed();
            Assert.False(File.Exists(path));
        });
    }

    // A peer that resets the connection: the read and the write on this side report it as .NET's own socket calls
    // would (SocketError.ConnectionReset on the read; the writer is lost with an IOException), on the selector's
    // direct system calls as on the portable path.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void APeersResetReachesTheReaderAndTheWriter(bool portable)
    {
        HangGuard.Run(() => Aio.Run(Main(), new RunOptions { HandleCtrlC = false, PortableIo = portable }));

        async Coroutine Main()
        {
            var connected = new AioEvent();
            AioStreamReader? reader = null;
            AioStreamWriter? writer = null;
            var done = new AioEvent();
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    (reader, writer) = (r, w);
                    connected.Set();
                    await done.Wait();
                },
                "127.0.0.1",
                0);
            using (var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                await peer.ConnectAsync(IPAddress.Loopback, server.Port);
                await connected.Wait();
                peer.LingerState = new LingerOption(true, 0); // close with a reset, not a FIN
            }
            var e = await Assert.ThrowsAsync<SocketException>(async () => await reader!.Read(100));
            Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
            // The reset is consumed by the read; a write then finds the connection gone (EPIPE, no SIGPIPE).
            await Assert.ThrowsAsync<IOException>(async () =>
            {
                for (int i = 0; i < 100; i++)
                {
                    writer!.Write(B("after the reset\n"));
                    await writer.Drain();
                    await Aio.Sleep(0.01);
                }
            });
            done.Set();
            server.Close();
            await server.WaitClosed();
        }
    }

    [Fact]
    public void BadInputGivesClearExceptionsAndTheLoopGoesOn()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    w.Write(B("half a li"));
                    await w.Drain();
                },
                "127.0.0.1",
                0);
            // A port in use.
            var inUse = await Assert.ThrowsAsync<SocketException>(async () => await Aio.StartServer(Echo, "127.0.0.1", server.Port));
            Assert.Equal(SocketError.AddressAlreadyInUse, inUse.SocketErrorCode);
            Assert.Contains($"127.0.0.1:{server.Port}", inUse.Message, StringComparison.Ordinal);
            // A peer that closes mid-line.
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var e = await Assert.ThrowsAsync<IncompleteReadException>(async () => await reader.ReadUntil(B("\n")));
            Assert.Equal("half a li", S(e.Partial));
            writer.Close();
            int port = server.Port;
            server.Close();
            await server.WaitClosed();
            // Nobody listening.
            var refused = await Assert.ThrowsAsync<SocketException>(async () => await Aio.OpenConnection("127.0.0.1", port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            Assert.Contains($"127.0.0.1:{port}", refused.Message, StringComparison.Ordinal);
            // The loop still serves.
            var echo = await Aio.StartServer(Echo, "127.0.0.1", 0);
            var c = await Aio.OpenConnection("127.0.0.1", echo.Port);
            c.Writer.Write(B("still here\n"));
            Assert.Equal("still here\n", S(await c.Reader.ReadLine()));
            c.Writer.Close();
            echo.Close();
            await echo.WaitClosed();
        });
    }

    [Fact]
    public void AHandlerExceptionIsReportedAndTheServerKeepsServing()
    {
        var reports = new ReportCollector();
        Run(async () =>
        {
            Aio.GetRunningLoop().SetExceptionHandler(reports.Handle);
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    var line = await r.ReadLine();
                    if (S(line) == "boom\n")
                    {
                        throw new TestException("handler failed");
                    }
                    w.Write(line);
                },
                "127.0.0.1",
                0);
            var bad = await Aio.OpenConnection("127.0.0.1", server.Port);
            bad.Writer.Write(B("boom\n"));
            Assert.Empty(await bad.Reader.Read());
            var good = await Aio.OpenConnection("127.0.0.1", server.Port);
            good.Writer.Write(B("fine\n"));
            Assert.Equal("fine\n", S(await good.Reader.ReadLine()));
            bad.Writer.Close();
            good.Writer.Close();
            server.Close();
            await server.WaitClosed();
        });
        var report = Assert.Single(reports.Matching("connection handler"));
        Assert.IsType<TestException>(report.Exception);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pfx), null);
    }

    [Fact]
    public void TlsEchoWithHalfClose()
    {
        using var cert = SelfSigned();
        string thumbprint = cert.Thumbprint;
        Run(async () =>
        {
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    Assert.NotNull(w.SslStream);
                    var line = await r.ReadLine();
                    w.Write(line);
                    var rest = await r.Read();
                    w.Write(B($"rest {rest.Length}\n"));
                    await w.Drain();
                },
                "127.0.0.1",
                0,
                ssl: new SslServerAuthenticationOptions { ServerCertificate = cert });
            var client = new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, c, _, _) => c is X509Certificate2 c2 && c2.Thumbprint == thumbprint,
            };
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port, ssl: client);
            Assert.True(writer.SslStream!.IsAuthenticated);
            writer.Write(B("secret line\n"));
            Assert.Equal("secret line\n", S(await reader.ReadLine()));
            writer.Write(new byte[200_000]);
            await writer.Drain();
            writer.WriteEof();
            Assert.Equal("rest 200000\n", S(await reader.ReadLine()));
            Assert.Empty(await reader.Read());
            writer.Close();
            await writer.WaitClosed();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void AHostThatDoesNotResolveThrowsSocketException()
    {
        Run(async () =>
        {
            var e = await Assert.ThrowsAsync<SocketException>(async () => await Aio.OpenConnection("no-such-host.invalid", 80));
            Assert.Contains("no-such-host.invalid", e.Message, StringComparison.Ordinal);
            // The loop goes on.
            await Aio.Sleep(0.001);
        });
    }

    [Fact]
    public void ClosingTheWriterEndsAPendingReadAsEndOfStream()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(async (r, w) => await r.Read(), "127.0.0.1", 0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var pending = Aio.CreateTask(reader.Read(10));
            await Aio.Sleep(0.02);
            writer.Close();
            Assert.Empty(await pending);
            Assert.True(reader.AtEof);
            await writer.WaitClosed();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void APeerThatResetsTheConnectionFailsWriteOrDrainWithIOException()
    {
        Run(async () =>
        {
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    await r.ReadExactly(10);
                    w.Abort(); // unread data pending: the kernel answers with a reset
                },
                "127.0.0.1",
                0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var chunk = new byte[64 * 1024];
            var e = await Assert.ThrowsAsync<IOException>(async () =>
            {
                for (int i = 0; i < 10_000; i++)
                {
                    writer.Write(chunk);
                    await writer.Drain();
                }
            });
            Assert.Contains("Connection lost", e.Message, StringComparison.Ordinal);
            Assert.True(writer.IsClosing);
            writer.Close();
            server.Close();
            await server.WaitClosed();
        });
    }

    [Fact]
    public void UnderTheVirtualClockSocketWaitsAreNotJumpedPastAndAnIdleServerDoesNotHoldTimeBack()
    {
        HangGuard.Run(() => Virtual.Run(Main()));

        static async Coroutine Main()
        {
            var server = await Aio.StartServer(Echo, "127.0.0.1", 0);
            var (reader, writer) = await Aio.OpenConnection("127.0.0.1", server.Port);
            var longSleeper = Aio.CreateTask(Nap());
            // The timeout's timer is due while the read waits on the socket: the loop waits for the socket.
            var line = await Aio.Timeout(5, async _ =>
            {
                writer.Write(B("virtual\n"));
                return await reader.ReadLine();
            });
            Assert.Equal("virtual\n", S(line));
            writer.Close();
            await writer.WaitClosed();
            await longSleeper;
            Assert.True(Aio.GetRunningLoop().Time >= 3600);
            server.Close();
            await server.WaitClosed();
        }

        static async Coroutine Nap() => await Aio.Sleep(3600);
    }

    [Fact]
    public void CloseClientsEndsTheHandlersReadsAsEndOfStream()
    {
        Run(async () =>
        {
            int ended = 0;
            var server = await Aio.StartServer(
                async (r, w) =>
                {
                    Assert.Empty(await r.Read()); // EOF once the server closes the connection
                    ended++;
                },
                "127.0.0.1",
                0);
            var a = await Aio.OpenConnection("127.0.0.1", server.Port);
            var b = await Aio.OpenConnection("127.0.0.1", server.Port);
            await Until(() => server.ActiveHandlers == 2);
            Assert.All(server.Handlers, h => Assert.StartsWith("conn-127.0.0.1:", h.Name, StringComparison.Ordinal));
            server.Close();
            server.CloseClients();
            await server.WaitClosed();
            Assert.Equal(2, ended);
            Assert.Empty(await a.Reader.Read());
            Assert.Empty(await b.Reader.Read());
            a.Writer.Close();
            b.Writer.Close();
        });
    }
}
