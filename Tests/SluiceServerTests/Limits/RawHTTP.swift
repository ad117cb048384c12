import SluiceTesting

typealias Connection = RawConnection
