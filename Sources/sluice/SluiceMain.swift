import SluiceCLI

/// The `sluice` executable: everything lives in `SluiceCLI`, so that tests drive the commands
/// in-process.
@main
enum SluiceMain {
    static func main() async {
        await Sluice.main(nil)
    }
}
