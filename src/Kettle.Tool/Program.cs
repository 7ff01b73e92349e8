using System.Text;
using Kettle.Tool;

Console.OutputEncoding = Encoding.UTF8;
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await KettleCli.RunAsync(args, Console.Out, Console.Error, cancel.Token);
