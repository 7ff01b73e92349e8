#:sdk Microsoft.NET.Sdk.Web
#:project ../src/Kettle/Kettle.csproj
// Ordinary .NET clients on the loop: HttpClient fetches 200 URLs from a local Kestrel server, at most 20 at
// once (AioSemaphore), each under its own timeout (Aio.Timeout). The task's CancellationToken goes to
// HttpClient, so a timeout really stops the request.
using System.Diagnostics;
using System.Net;
using Kettle;

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
var app = builder.Build();
app.MapGet("/item/{id:int}", async (int id) =>
{
    await Task.Delay(Random.Shared.Next(5, 30)); // a little server-side latency
    return $"item {id}";
});
await app.StartAsync();
string baseUrl = app.Urls.First();

var clock = Stopwatch.StartNew();
var (ok, failed) = Aio.Run(Main(baseUrl));
Console.WriteLine($"fetched {ok}/200 ({failed} failed) in {clock.Elapsed.TotalSeconds:0.00} s");
await app.StopAsync();

static async Coroutine<(int Ok, int Failed)> Main(string baseUrl)
{
    using var http = new HttpClient();
    var limit = new AioSemaphore(20);
    int inFlight = 0, peak = 0;

    async Coroutine<bool> Fetch(int i)
    {
        using (await limit.Acquire())
        {
            peak = Math.Max(peak, ++inFlight);
            try
            {
                string body = await Aio.Timeout(2.0, async _ =>
                    await http.GetStringAsync($"{baseUrl}/item/{i}", Aio.CurrentTask!.CancellationToken));
                return body == $"item {i}";
            }
            catch (Exception ex) when (ex is TimeoutException or HttpRequestException)
            {
                Console.WriteLine($"item {i}: {ex.Message}");
                return false;
            }
            finally
            {
                inFlight--;
            }
        }
    }

    bool[] results = await Aio.Gather(Enumerable.Range(0, 200).Select(i => Aio.CreateTask(Fetch(i))).ToArray());
    Console.WriteLine($"at most {peak} requests in flight");
    return (results.Count(r => r), results.Count(r => !r));
}
